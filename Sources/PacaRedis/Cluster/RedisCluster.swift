public import Logging
public import NIOCore
public import PacaCore
import Synchronization

/// A client for a Redis Cluster: learns the slot map from the seed nodes, sends each command to
/// the master of its key's slot (CRC16, hash tags honoured), follows `MOVED` (patching the map and
/// reading it again) and `ASK` (one `ASKING` + command on the importing node), and keeps one
/// connection pool and one circuit breaker per master, so a failed master costs only its own
/// slots: the others keep answering, and the caller falls back to its lower tiers and the origin.
///
/// `RedisTier` uses it when `configuration.cluster` names seed nodes.
public final class RedisCluster: Sendable {
    /// How to reach the cluster.
    public struct Configuration: Sendable {
        /// Seed nodes asked for the slot map, in order, until one answers.
        public var seeds: [RedisNodeAddress]
        /// ACL user for `AUTH user password`; `nil` for `AUTH password`.
        public var username: String?
        /// The password every node shares; `nil` when none is needed.
        public var password: String?
        /// Limit for connecting and for each round trip. Default 50 ms.
        public var timeout: Duration
        /// Connections per master. Default 2.
        public var poolSize: Int
        /// Jobs waiting per master beyond this are dropped. Default 1024.
        public var maxQueuedJobs: Int
        /// Consecutive failures that open a master's breaker. Default 5.
        public var failureThreshold: Int
        /// How long an open breaker skips its master. Default 5 s.
        public var openDuration: Duration
        /// Redirections followed for one command before giving up. Default 5.
        public var maxRedirects: Int
        /// Send `read(key:_:)` to a replica of the slot's master (`storage.l3.read_from_replicas`):
        /// every connection then sends `READONLY` once after connecting. Default off: replicas
        /// lag their master by the replication delay, so a read there may miss a fresh write.
        public var readFromReplicas: Bool

        /// Creates a configuration; every setting but the seeds has the default above.
        public init(
            seeds: [RedisNodeAddress], username: String? = nil, password: String? = nil, timeout: Duration = .milliseconds(50),
            poolSize: Int = 2, maxQueuedJobs: Int = 1024, failureThreshold: Int = 5, openDuration: Duration = .seconds(5),
            maxRedirects: Int = 5, readFromReplicas: Bool = false
        ) {
            self.seeds = seeds
            self.username = username
            self.password = password
            self.timeout = timeout
            self.poolSize = max(1, poolSize)
            self.maxQueuedJobs = max(1, maxQueuedJobs)
            self.failureThreshold = max(1, failureThreshold)
            self.openDuration = openDuration
            self.maxRedirects = max(1, maxRedirects)
            self.readFromReplicas = readFromReplicas
        }
    }

    private struct Node: Sendable {
        let pool: RedisConnectionPool
        var breaker: CircuitBreaker
    }

    private struct State: Sendable {
        var map = RedisSlotMap()
        var nodes: [RedisNodeAddress: Node] = [:]
        var refreshes = 0
        var closed = false
        /// Reads sent to a replica, and those that went to the master after the replica failed.
        var replicaReads = 0
        var replicaFallbacks = 0
        /// Spreads reads over a master's replicas.
        var nextReplica = 0
    }

    /// The configuration the client was created with.
    public let configuration: Configuration
    private let clock: any WallClock
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates the client; nothing connects until the first command or `refreshSlotMap()`.
    public init(configuration: Configuration, clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.redis")) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// `open` when every known master's breaker is open, `half-open` when some are, else `closed`.
    public var breakerSummary: String {
        state.withLock { state in
            let open = state.nodes.values.count { $0.breaker.stateName != "closed" }
            return open == 0 ? "closed" : open == state.nodes.count ? "open" : "half-open"
        }
    }

    /// The masters of the slot map, reading it first when it is still empty.
    public func currentMasters() async -> [RedisNodeAddress] {
        if state.withLock({ $0.map.masters.isEmpty }) { try? await refreshSlotMap() }
        return state.withLock { $0.map.masters }
    }

    /// The slot map in use.
    public var slotMap: RedisSlotMap {
        state.withLock { $0.map }
    }

    /// How many times the slot map has been read (at first use, after `MOVED`, after a failure).
    public var slotMapRefreshes: Int {
        state.withLock { $0.refreshes }
    }

    /// `closed`, `open` or `half-open` for the master at `address` (`closed` for one never used).
    public func breakerState(of address: RedisNodeAddress) -> String {
        state.withLock { $0.nodes[address]?.breaker.stateName ?? "closed" }
    }

    /// Reads the slot map from the known masters, then the seeds, until one answers: `CLUSTER
    /// SHARDS` first, `CLUSTER SLOTS` where the server does not know it (before Redis 7).
    public func refreshSlotMap() async throws(RedisError) {
        // Nodes whose breaker is open are asked last: they are probably the reason for asking.
        let (known, failing) = state.withLock { state in
            (state.map.masters, Set(state.nodes.filter { $0.value.breaker.stateName != "closed" }.keys))
        }
        var candidates: [RedisNodeAddress] = []
        for address in known + configuration.seeds where !candidates.contains(address) { candidates.append(address) }
        candidates = candidates.filter { !failing.contains($0) } + candidates.filter { failing.contains($0) }
        var lastError = RedisError.protocolError("no seed node configured")
        for address in candidates {
            do {
                let map = try await readSlotMap(from: address)
                state.withLock { state in
                    state.map = map
                    state.refreshes += 1
                }
                return
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private func readSlotMap(from address: RedisNodeAddress) async throws(RedisError) -> RedisSlotMap {
        let pool = try node(at: address)
        let shards = try await pool.run { connection throws(RedisError) in
            try connection.command(["CLUSTER", "SHARDS"].map { ByteBuffer(string: $0) })
        }
        var reply = shards
        var sharded = true
        if case .error = shards {
            // Before Redis 7: no CLUSTER SHARDS.
            reply = try await pool.run { connection throws(RedisError) in
                try connection.command(["CLUSTER", "SLOTS"].map { ByteBuffer(string: $0) })
            }
            sharded = false
        }
        if case .error(let message) = reply { throw .protocolError("the slot map was refused: \(message)") }
        do throws(RedisSlotMap.ParseError) {
            return sharded
                ? try RedisSlotMap.parse(clusterShards: reply, askedHost: address.host)
                : try RedisSlotMap.parse(clusterSlots: reply, askedHost: address.host)
        } catch {
            throw .protocolError(error.description)
        }
    }

    /// Sends `commands`, all about `key` (or keys sharing its hash tag), to the master of its
    /// slot in one pipeline, and returns their replies. Follows `MOVED` and `ASK`; a master whose
    /// breaker is open is not asked (`.breakerOpen`), and a slot no master serves fails at once.
    public func run(key: String, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        try await run(slot: RedisHashSlot.slot(for: key), commands)
    }

    /// Sends read-only `commands` about `key` to a replica of its slot's master when
    /// `readFromReplicas` is on and the master has one (the replicas in turn); when that replica
    /// fails, has its breaker open, or redirects (it no longer serves the slot), the commands go
    /// to the master as `run(key:_:)` sends them. Without the option, or without replicas, this is
    /// `run(key:_:)`.
    public func read(key: String, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        let slot = RedisHashSlot.slot(for: key)
        guard configuration.readFromReplicas else { return try await run(slot: slot, commands) }
        if state.withLock({ $0.map.masters.isEmpty }) { try await refreshSlotMap() }
        let replica = state.withLock { state -> RedisNodeAddress? in
            let replicas = state.map.replicas(forSlot: slot)
            guard !replicas.isEmpty else { return nil }
            state.nextReplica &+= 1
            return replicas[Int(UInt(bitPattern: state.nextReplica) % UInt(replicas.count))]
        }
        guard let replica else { return try await run(slot: slot, commands) }
        do {
            let replies = try await perform(on: replica, commands)
            let redirected = replies.contains { reply in
                if case .error(let message) = reply { return RedisRedirect(errorMessage: message) != nil }
                return false
            }
            if !redirected {
                state.withLock { $0.replicaReads += 1 }
                return replies
            }
        } catch {
            // The replica is down or skipped: its master answers.
        }
        state.withLock { $0.replicaFallbacks += 1 }
        return try await run(slot: slot, commands)
    }

    /// Reads answered by a replica, and reads that fell back to the master (replica down, or
    /// no longer serving the slot).
    public var replicaReadCounts: (replica: Int, fallbacks: Int) {
        state.withLock { ($0.replicaReads, $0.replicaFallbacks) }
    }

    /// `run(key:_:)` for a slot computed by the caller.
    public func run(slot: Int, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        if state.withLock({ $0.map.masters.isEmpty }) { try await refreshSlotMap() }
        if let target = state.withLock({ $0.map.master(forSlot: slot) }) {
            return try await follow(slot: slot, from: target, commands)
        }
        // The map may be stale (a failover promoted a replica): read it again once.
        try await refreshSlotMap()
        guard let target = state.withLock({ $0.map.master(forSlot: slot) }) else {
            throw .protocolError("no master serves slot \(slot)")
        }
        return try await follow(slot: slot, from: target, commands)
    }

    private func follow(slot: Int, from first: RedisNodeAddress, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        var target = first
        var asking = false
        var refreshedAfterFailure = false
        for _ in 0...configuration.maxRedirects {
            let sent = asking ? commands.flatMap { [[ByteBuffer(string: "ASKING")], $0] } : commands
            var replies: [RedisReply]
            do {
                replies = try await perform(on: target, sent)
            } catch {
                // The failure that opened this master's breaker may be a failover: read the map
                // (once per opening, so a dead master does not cause a refresh per command) and
                // retry where the slot lives now, if that is elsewhere.
                guard !refreshedAfterFailure, !asking, error != .breakerOpen, breakerState(of: target) == "open" else { throw error }
                refreshedAfterFailure = true
                try? await refreshSlotMap()
                guard let moved = state.withLock({ $0.map.master(forSlot: slot) }), moved != target else { throw error }
                target = moved
                continue
            }
            if asking { replies = stride(from: 1, to: replies.count, by: 2).map { replies[$0] } }
            let redirect = replies.lazy.compactMap { reply -> RedisRedirect? in
                if case .error(let message) = reply { return RedisRedirect(errorMessage: message) }
                return nil
            }.first
            guard var redirect else { return replies }
            if redirect.node.host.isEmpty { redirect.node.host = target.host }
            switch redirect.kind {
            case .moved:
                state.withLock { $0.map.assign(redirect.slot...redirect.slot, to: redirect.node) }
                // One slot moved usually means a resharding or failover: learn the rest now.
                try? await refreshSlotMap()
                target = state.withLock { $0.map.master(forSlot: slot) } ?? redirect.node
                asking = false
            case .ask:
                target = redirect.node
                asking = true
            }
        }
        throw .protocolError("more than \(configuration.maxRedirects) redirections for slot \(slot)")
    }

    /// Runs `body` once on every master (a namespace scan, a sweep), in parallel; each master's
    /// outcome is returned with its address. The map is read first when still empty.
    public func onEveryMaster<Value: Sendable>(
        _ body: @escaping @Sendable (RedisNodeAddress) async throws(RedisError) -> Value
    ) async -> [(RedisNodeAddress, Result<Value, RedisError>)] {
        if state.withLock({ $0.map.masters.isEmpty }) { try? await refreshSlotMap() }
        let masters = state.withLock { $0.map.masters }
        return await withTaskGroup(of: (RedisNodeAddress, Result<Value, RedisError>).self) { group in
            for master in masters {
                group.addTask {
                    do throws(RedisError) {
                        return (master, .success(try await body(master)))
                    } catch {
                        return (master, .failure(error))
                    }
                }
            }
            var results: [(RedisNodeAddress, Result<Value, RedisError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
    }

    /// Sends `commands` to the node at `address` (no routing, no redirection), through its
    /// breaker: for per-master work such as `SCAN`.
    public func perform(on address: RedisNodeAddress, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        let now = clock.now()
        let permission = try state.withLock { state throws(RedisError) -> CircuitBreaker.Permission in
            guard !state.closed else { throw .shutDown }
            return state.nodes[address]?.breaker.permission(now: now) ?? .proceed
        }
        if permission == .skip { throw .breakerOpen }
        let pool = try node(at: address)
        do {
            let replies = try await pool.pipeline(commands)
            let transition = state.withLock { $0.nodes[address]?.breaker.recordSuccess(now: clock.now()) }
            if transition != nil {
                logger.info("L3 Redis Cluster master back: circuit breaker closed", metadata: ["redis": "\(address)"])
            }
            return replies
        } catch {
            let trips: Bool
            switch error {
            case .connectFailed, .authenticationFailed, .selectFailed, .timeout, .io, .protocolError: trips = true
            case .shutDown, .overloaded, .breakerOpen: trips = false
            }
            let transition = state.withLock { state -> CircuitBreaker.Transition? in
                if trips { return state.nodes[address]?.breaker.recordFailure(now: clock.now()) }
                if permission == .probe { state.nodes[address]?.breaker.probeAbandoned(now: clock.now()) }
                return nil
            }
            if transition != nil {
                logger.warning(
                    "L3 Redis Cluster master failing: circuit breaker open, its slots are skipped",
                    metadata: ["redis": "\(address)", "error": "\(error)"])
            }
            throw error
        }
    }

    /// Closes every pool and waits for their threads.
    public func shutdown() async {
        let pools = state.withLock { state in
            state.closed = true
            return state.nodes.values.map(\.pool)
        }
        for pool in pools { await pool.shutdown() }
    }

    /// The pool for `address`, created on first use.
    private func node(at address: RedisNodeAddress) throws(RedisError) -> RedisConnectionPool {
        try state.withLock { state throws(RedisError) -> RedisConnectionPool in
            guard !state.closed else { throw .shutDown }
            if let node = state.nodes[address] { return node.pool }
            let url = RedisURL(
                host: address.host, port: address.port, username: configuration.username, password: configuration.password, database: 0)
            let readOnly = configuration.readFromReplicas
            let pool = RedisConnectionPool(
                url: url, size: configuration.poolSize, timeout: configuration.timeout, maxQueuedJobs: configuration.maxQueuedJobs
            ) { connection in
                // Lets a replica answer reads of its master's slots (harmless on a master, and a
                // node that is promoted keeps working). Once per connection, right after AUTH.
                if readOnly { _ = try? connection.command([ByteBuffer(string: "READONLY")]) }
            }
            state.nodes[address] = Node(
                pool: pool,
                breaker: CircuitBreaker(failureThreshold: configuration.failureThreshold, openDuration: configuration.openDuration))
            return pool
        }
    }
}
