/// Which master serves each of the 16384 hash slots, and the replicas of each master, as learned
/// from `CLUSTER SHARDS` (Redis 7+) or `CLUSTER SLOTS` (older servers). A value: the owner
/// replaces it whole on refresh and patches single slots on `MOVED`.
public struct RedisSlotMap: Sendable, Equatable {
    /// Every master that serves at least one slot, sorted.
    public private(set) var masters: [RedisNodeAddress]
    /// The online replicas of each master, as the map was read (empty without replicas).
    public private(set) var replicas: [RedisNodeAddress: [RedisNodeAddress]] = [:]
    /// For each slot, its master's index in `masters`, or -1 when no master serves it.
    private var owners: [Int16]

    /// A map in which no slot is served.
    public init() {
        masters = []
        owners = Array(repeating: -1, count: RedisHashSlot.count)
    }

    /// A map from slot ranges (inclusive bounds) to masters, with each master's replicas.
    public init(
        ranges: [(slots: ClosedRange<Int>, master: RedisNodeAddress)], replicas: [RedisNodeAddress: [RedisNodeAddress]] = [:]
    ) {
        self.init()
        for (slots, master) in ranges { place(slots, master) }
        self.replicas = replicas.filter { !$0.value.isEmpty }
        dropUnusedMasters()
    }

    /// The replicas of the master serving `slot` (none when it has none or no master serves it).
    public func replicas(forSlot slot: Int) -> [RedisNodeAddress] {
        guard let master = master(forSlot: slot) else { return [] }
        return replicas[master] ?? []
    }

    /// The master serving `slot`, if any.
    public func master(forSlot slot: Int) -> RedisNodeAddress? {
        guard (0..<RedisHashSlot.count).contains(slot) else { return nil }
        let owner = owners[slot]
        return owner < 0 ? nil : masters[Int(owner)]
    }

    /// The master serving `key`'s slot, if any.
    public func master(forKey key: String) -> RedisNodeAddress? {
        master(forSlot: RedisHashSlot.slot(for: key))
    }

    /// Slots no master serves (a cluster being set up, or one that lost a master with no
    /// replica to take over).
    public var unservedSlots: Int {
        owners.count { $0 < 0 }
    }

    /// Gives `slots` to `master` (a `MOVED` reply). Masters left with no slot are dropped.
    public mutating func assign(_ slots: ClosedRange<Int>, to master: RedisNodeAddress) {
        place(slots, master)
        dropUnusedMasters()
    }

    private mutating func place(_ slots: ClosedRange<Int>, _ master: RedisNodeAddress) {
        let clamped = slots.clamped(to: 0...(RedisHashSlot.count - 1))
        let index: Int
        if let known = masters.firstIndex(of: master) {
            index = known
        } else {
            masters.append(master)
            index = masters.count - 1
        }
        for slot in clamped { owners[slot] = Int16(index) }
    }

    /// Keeps `masters` sorted and free of nodes that serve nothing.
    private mutating func dropUnusedMasters() {
        let used = Set(owners.filter { $0 >= 0 })
        let kept = masters.indices.filter { used.contains(Int16($0)) }.sorted { masters[$0] < masters[$1] }
        var renumbered = Array(repeating: Int16(-1), count: masters.count)
        for (new, old) in kept.enumerated() { renumbered[old] = Int16(new) }
        masters = kept.map { masters[$0] }
        owners = owners.map { $0 < 0 ? -1 : renumbered[Int($0)] }
        let serving = Set(masters)
        replicas = replicas.filter { serving.contains($0.key) }
    }

    // MARK: - Parsing

    /// Why a reply could not be read as a slot map.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ...], replicas...], ...]`.
    /// A master shown with an empty host (or `?`) is at `askedHost`, the host the reply came from.
    public static func parse(clusterSlots reply: RedisReply, askedHost: String) throws(ParseError) -> RedisSlotMap {
        guard case .array(let ranges) = reply else { throw ParseError(description: "CLUSTER SLOTS answered \(reply)") }
        var parsed: [(slots: ClosedRange<Int>, master: RedisNodeAddress)] = []
        var replicas: [RedisNodeAddress: [RedisNodeAddress]] = [:]
        for range in ranges {
            guard case .array(let parts) = range, parts.count >= 3, case .integer(let start) = parts[0], case .integer(let end) = parts[1],
                start <= end, case .array(let master) = parts[2], master.count >= 2, case .integer(let port) = master[1]
            else { throw ParseError(description: "unreadable CLUSTER SLOTS range \(range)") }
            let host = master[0].text ?? ""
            let address = RedisNodeAddress(host: usable(host) ? host : askedHost, port: Int(port))
            parsed.append((Int(start)...Int(end), address))
            for replica in parts.dropFirst(3) {
                guard case .array(let node) = replica, node.count >= 2, case .integer(let replicaPort) = node[1] else { continue }
                let replicaHost = node[0].text ?? ""
                let replicaAddress = RedisNodeAddress(host: usable(replicaHost) ? replicaHost : askedHost, port: Int(replicaPort))
                if !(replicas[address] ?? []).contains(replicaAddress) { replicas[address, default: []].append(replicaAddress) }
            }
        }
        return RedisSlotMap(ranges: parsed, replicas: replicas)
    }

    /// Reads a `CLUSTER SHARDS` reply (Redis 7+): per shard, `slots` as flat start/end pairs and
    /// `nodes`, each a flat field/value list with `ip` (or `endpoint`), `port` (or `tls-port`),
    /// `role` and `health`. Only the shard's online master serves its slots; a shard whose master
    /// has failed (and not yet been replaced) serves nothing until the map is read again.
    public static func parse(clusterShards reply: RedisReply, askedHost: String) throws(ParseError) -> RedisSlotMap {
        guard case .array(let shards) = reply else { throw ParseError(description: "CLUSTER SHARDS answered \(reply)") }
        var parsed: [(slots: ClosedRange<Int>, master: RedisNodeAddress)] = []
        var replicas: [RedisNodeAddress: [RedisNodeAddress]] = [:]
        for shard in shards {
            let fields = fieldMap(shard)
            guard case .array(let bounds)? = fields["slots"], bounds.count % 2 == 0, case .array(let nodes)? = fields["nodes"] else {
                throw ParseError(description: "unreadable CLUSTER SHARDS shard \(shard)")
            }
            let master = nodes.lazy.map(fieldMap).first { node in
                node["role"]?.text == "master" && (node["health"]?.text ?? "online") == "online"
            }
            guard let master else { continue }
            guard let masterAddress = address(of: master, askedHost: askedHost) else {
                throw ParseError(description: "a CLUSTER SHARDS master without a port: \(shard)")
            }
            let host = masterAddress.host
            let port = Int64(masterAddress.port)
            replicas[masterAddress] = nodes.map(fieldMap).filter { node in
                node["role"]?.text == "replica" && (node["health"]?.text ?? "online") == "online"
            }.compactMap { address(of: $0, askedHost: askedHost) }
            var index = 0
            while index + 1 < bounds.count {
                guard case .integer(let start) = bounds[index], case .integer(let end) = bounds[index + 1], start <= end else {
                    throw ParseError(description: "unreadable CLUSTER SHARDS slots \(bounds)")
                }
                parsed.append((Int(start)...Int(end), RedisNodeAddress(host: host, port: Int(port))))
                index += 2
            }
        }
        return RedisSlotMap(ranges: parsed, replicas: replicas)
    }

    /// A `CLUSTER SHARDS` node's address: `endpoint`, else `ip`, else `askedHost`; `port`, else
    /// `tls-port`; `nil` without a port.
    private static func address(of node: [String: RedisReply], askedHost: String) -> RedisNodeAddress? {
        let port: Int64
        if case .integer(let plain)? = node["port"], plain > 0 {
            port = plain
        } else if case .integer(let tls)? = node["tls-port"], tls > 0 {
            port = tls
        } else {
            return nil
        }
        let endpoint = node["endpoint"]?.text ?? ""
        let ip = node["ip"]?.text ?? ""
        return RedisNodeAddress(host: usable(endpoint) ? endpoint : usable(ip) ? ip : askedHost, port: Int(port))
    }

    private static func usable(_ host: String) -> Bool {
        !host.isEmpty && host != "?"
    }

    /// A RESP2 map (a flat array of field, value, field, value...) as a dictionary.
    private static func fieldMap(_ reply: RedisReply) -> [String: RedisReply] {
        guard case .array(let items) = reply else { return [:] }
        var fields: [String: RedisReply] = [:]
        var index = 0
        while index + 1 < items.count {
            if let name = items[index].text { fields[name] = items[index + 1] }
            index += 2
        }
        return fields
    }
}
