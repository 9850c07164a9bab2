public import Logging
public import NIOCore
public import PacaCore
import Synchronization

/// L3: cache entries in Redis, shared by every paca node that names the same server and
/// namespace (DESIGN.md §3, "L3 Redis").
///
/// Values are the entry codec's bytes under `<namespace>:e:<hash>`, stored with `PX` set to the
/// entry's remaining storage lifetime, so Redis expires them itself. Lookups made on an event
/// loop (`get(_:now:on:)`, the proxy's) go out on a pipelined connection owned by that loop,
/// which reads their replies itself; every other round trip runs on a small pool of hiredis
/// connections, each on its own thread. A circuit breaker skips Redis after
/// repeated timeouts or connection errors, so a dead server costs at most one timeout per
/// `openDuration`, not one per request. Every operation is best-effort: failures become misses or
/// dropped writes, counted in `statistics()`.
public final class RedisTier: CacheTier {
    /// `l3`.
    public let name = "l3"
    /// The configuration the tier was created with.
    public let configuration: Configuration
    /// Seals entries marked `encryptAtRest` and opens sealed values; without one such entries
    /// are not sent and sealed values are misses.
    public let sealer: (any EntrySealer)?

    let clock: any WallClock
    let logger: Logger
    /// One server, or a cluster routed by hash slot.
    let backend: Backend
    /// With one server: a pipelined connection per event loop, for `get(_:now:on:)`.
    let loopConnections: RedisLoopConnections?
    let state: Mutex<TierState>
    let keyPrefix: String
    let keyPrefixBytes: ByteBuffer
    let scanPattern: String

    /// Longest `PX` sent: entries that claim to live forever (`storageExpiry == .max`) get ten
    /// years, since Redis refuses an expiry that overflows its clock.
    static let maxExpiryMillis: Int64 = 10 * 365 * 24 * 3600 * 1000
    /// Bytes read from each value by a sweep to find its key without fetching the body.
    static let sweepHeaderBytes = 4096
    /// `GET`, the command name.
    static let getName = ByteBuffer(string: "GET")
    /// `SCAN ... COUNT` hint.
    static let scanCount = 500

    /// Where commands go: one server through one pool guarded by the tier's breaker, or a Redis
    /// Cluster (`configuration.cluster`) with a pool and a breaker per master.
    enum Backend: Sendable {
        case single(RedisConnectionPool)
        case cluster(RedisCluster)
    }

    struct TierState {
        var breaker: CircuitBreaker
        var hits = 0
        var misses = 0
        var errors = 0
        var corrupt = 0
        var rejectedWrites = 0
        var oversized = 0
        var latency = LatencyWindow()
    }

    /// Creates the tier and starts its connection threads; the first connection warns once when
    /// the server's `maxmemory-policy` is `noeviction` (which makes a full Redis refuse writes
    /// instead of evicting old entries). Nothing is awaited here: a server that is down is found
    /// out by the first operations, which fail fast and open the breaker. `sealer` is the key for
    /// entries marked `encryptAtRest` (default none: they are not stored).
    public init(
        configuration: Configuration,
        clock: any WallClock = SystemWallClock(),
        sealer: (any EntrySealer)? = nil,
        logger: Logger = Logger(label: "paca.redis")
    ) {
        self.configuration = configuration
        self.sealer = sealer
        self.clock = clock
        self.logger = logger
        self.state = Mutex(
            TierState(breaker: CircuitBreaker(failureThreshold: configuration.failureThreshold, openDuration: configuration.openDuration)))
        self.keyPrefix = "\(configuration.namespace):e:"
        self.keyPrefixBytes = ByteBuffer(string: keyPrefix)
        self.scanPattern = Self.globEscaped(configuration.namespace) + ":e:*"

        let url = configuration.url
        if let seeds = configuration.cluster {
            self.backend = .cluster(
                RedisCluster(
                    configuration: .init(
                        seeds: seeds, username: url.username, password: url.password, timeout: configuration.timeout,
                        poolSize: configuration.poolSize, maxQueuedJobs: configuration.maxQueuedJobs,
                        failureThreshold: configuration.failureThreshold, openDuration: configuration.openDuration,
                        readFromReplicas: configuration.readFromReplicas),
                    clock: clock, logger: logger))
            self.loopConnections = nil
        } else {
            let policyChecked = OnceFlag()
            let pool = RedisConnectionPool(
                url: url, size: configuration.poolSize, timeout: configuration.timeout, maxQueuedJobs: configuration.maxQueuedJobs
            ) { connection in
                guard policyChecked.claim() else { return }
                // CONFIG may be renamed or disabled (managed Redis): then say nothing.
                let reply = try? connection.command(["CONFIG", "GET", "maxmemory-policy"].map { ByteBuffer(string: $0) })
                if case .array(let pair) = reply, pair.count == 2, pair[1].text == "noeviction" {
                    logger.warning(
                        "Redis maxmemory-policy is noeviction: when full it refuses new L3 entries instead of evicting old ones; set allkeys-lru or volatile-lru",
                        metadata: ["redis": "\(url)"])
                }
            }
            self.backend = .single(pool)
            // A GET's reply is at most a value this tier writes; a larger one (another writer's,
            // or written under a larger limit) is a miss, its bytes dropped as they arrive.
            self.loopConnections = RedisLoopConnections(
                url: url, timeout: configuration.timeout, maxQueued: configuration.maxQueuedJobs,
                maxReplyBytes: min(configuration.maxEntryBytes, Int.max / 2) + 64 * 1024)
            // Connect now so the policy warning appears at start, and the first lookups do not
            // wait for a connection.
            pool.connectPipelines()
        }
        logger.debug("L3 Redis tier created", metadata: ["redis": "\(url)", "namespace": "\(configuration.namespace)"])
    }

    // MARK: - CacheTier

    /// One `GET`; the entry if Redis has it, it decodes with the expected full key, and its
    /// storage lifetime has not ended at `now`.
    public func get(_ key: String, now: UnixMillis) async -> CacheEntry? {
        let name = redisKey(for: key)
        let redisKey = ByteBuffer(string: name)
        let started = ContinuousClock.now
        let result = await perform(key: name, [[ByteBuffer(string: "GET"), redisKey]], read: true).map { $0[0] }
        return finishGet(result, key: key, redisKey: redisKey, now: now, started: started)
    }

    /// `get(_:now:)` for a caller on `eventLoop`, completed on that loop. With one server, the
    /// `GET` goes out on the loop's own connection (`RedisLoopConnection`) and its reply is read
    /// by the loop: no other thread wakes. A cluster, or a loop without sockets, goes through the
    /// thread pool.
    public func get(_ key: String, now: UnixMillis, on eventLoop: any EventLoop) -> EventLoopFuture<CacheEntry?> {
        guard let connection = loopConnections?.connection(on: eventLoop), eventLoop.inEventLoop else {
            return eventLoop.makeFutureWithTask { await self.get(key, now: now) }
        }
        let redisKey = redisKeyBytes(for: key)
        let started = ContinuousClock.now
        guard let permission = admit() else {
            return eventLoop.makeSucceededFuture(
                finishGet(.failure(.breakerOpen), key: key, redisKey: redisKey, now: now, started: started))
        }
        let promise = eventLoop.makePromise(of: CacheEntry?.self)
        let sent = connection.send([[Self.getName, redisKey]])
        let channel = connection.generation
        sent.assumeIsolated().whenComplete { [self] result in
            let checked: Result<RedisReply, RedisError>
            switch result {
            case .success(let replies):
                checked = Result { () throws(RedisError) in try Self.checked(replies[0]) }
                switch checked {
                case .success: settle(permission, failure: nil)
                case .failure(let error): settle(permission, failure: error)
                }
            case .failure(let error):
                let failure = error as? RedisError ?? .io("\(error)")
                checked = .failure(failure)
                // A broken channel fails every get on it: the breaker hears of it once. The
                // others count as errors with no verdict on Redis.
                let verdict = Self.tripsBreaker(failure) && !connection.claimFailure(of: channel) ? .overloaded : failure
                settle(permission, failure: verdict)
            }
            promise.succeed(finishGet(checked, key: key, redisKey: redisKey, now: now, started: started))
        }
        return promise.futureResult
    }

    /// Decodes a `GET`'s reply and counts the lookup (hit or miss, latency).
    private func finishGet(
        _ result: Result<RedisReply, RedisError>, key: String, redisKey: ByteBuffer, now: UnixMillis, started: ContinuousClock.Instant
    ) -> CacheEntry? {
        let elapsed = started.duration(to: .now)
        var entry: CacheEntry?
        if case .success(let reply) = result {
            entry = decode(reply, key: key, redisKey: redisKey, now: now)
        }
        let skipped: Bool
        if case .failure(.breakerOpen) = result { skipped = true } else { skipped = false }
        state.withLock { state in
            // Percentiles describe lookups that went to Redis, not the instant answers of an open breaker.
            if !skipped { state.latency.record(micros: Self.micros(elapsed)) }
            if entry == nil { state.misses += 1 } else { state.hits += 1 }
        }
        return entry
    }

    /// Several keys in one pipelined round trip (`GET` each); the entries found, by cache key.
    public func get(_ keys: [String], now: UnixMillis) async -> [String: CacheEntry] {
        var unique: [String] = []
        var seen = Set<String>()
        for key in keys where seen.insert(key).inserted { unique.append(key) }
        guard !unique.isEmpty else { return [:] }
        let names = unique.map { redisKey(for: $0) }
        let redisKeys = names.map { ByteBuffer(string: $0) }
        let get = ByteBuffer(string: "GET")
        let started = ContinuousClock.now
        let results = await performEach(zip(names, redisKeys).map { ($0, [get, $1]) }, read: true)
        let elapsed = started.duration(to: .now)
        var found: [String: CacheEntry] = [:]
        var skipped = false
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let reply):
                if let entry = decode(reply, key: unique[index], redisKey: redisKeys[index], now: now) {
                    found[unique[index]] = entry
                }
            case .failure(let error):
                if error == .breakerOpen { skipped = true }
            }
        }
        state.withLock { state in
            if !skipped { state.latency.record(micros: Self.micros(elapsed)) }
            state.hits += found.count
            state.misses += unique.count - found.count
        }
        return found
    }

    /// `SET <key> <codec bytes> PX <remaining storage lifetime>`, sealed for an `encryptAtRest`
    /// entry; nothing is sent for an entry already past its storage lifetime, larger than
    /// `maxEntryBytes` once encoded, or to be sealed without a sealer.
    public func set(_ entry: CacheEntry) async {
        await set([entry])
    }

    /// Stores several entries in one pipelined round trip.
    public func set(_ entries: [CacheEntry]) async {
        let now = clock.now()
        let set = ByteBuffer(string: "SET")
        let px = ByteBuffer(string: "PX")
        var commands: [(key: String, command: [ByteBuffer])] = []
        var oversized = 0
        for entry in entries {
            let remaining = entry.timing.storageExpiry &- now
            guard remaining > 0 else { continue }
            let value: ByteBuffer
            if entry.encryptAtRest {
                guard let sealer, let sealed = EntryCodec.encodeSealed(entry, sealer: sealer) else { continue }
                value = sealed
            } else {
                value = EntryCodec.encode(entry)
            }
            guard value.readableBytes <= configuration.maxEntryBytes else {
                oversized += 1
                continue
            }
            let lifetime = ByteBuffer(string: String(min(remaining, Self.maxExpiryMillis)))
            let name = redisKey(for: entry.key)
            commands.append((name, [set, ByteBuffer(string: name), value, px, lifetime]))
        }
        if oversized > 0 { state.withLock { $0.oversized += oversized } }
        guard !commands.isEmpty else { return }
        let replies = await performEach(commands).compactMap { try? $0.get() }
        let rejected = replies.count { $0.isOutOfMemory }
        let failed = replies.count { if case .error = $0 { !$0.isOutOfMemory } else { false } }
        if rejected + failed > 0 {
            state.withLock { state in
                state.rejectedWrites += rejected
                state.errors += failed
            }
        }
    }

    /// `DEL` of the key's slot.
    public func remove(_ key: String) async {
        let name = redisKey(for: key)
        _ = await perform(key: name, [[ByteBuffer(string: "DEL"), ByteBuffer(string: name)]])
    }

    /// Scans the namespace (`SCAN cursor MATCH <namespace>:e:* COUNT 500`), reads each value's
    /// header to learn its full key, and deletes those `predicate` accepts. Stops at the first
    /// failure and returns what it removed so far.
    public func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int {
        await sweep { [self] redisKeys in
            let headers = await readHeaders(redisKeys)
            return redisKeys.indices.compactMap { index in
                guard let key = headers[index] else { return nil }
                return predicate(key) ? redisKeys[index] : nil
            }
        }
    }

    /// Deletes every entry in the namespace (scan and `DEL`, page by page).
    public func removeAll() async {
        _ = await sweep { $0 }
    }

    /// Redis expires entries itself (`PX`): nothing to do; returns 0.
    public func removeExpired(now: UnixMillis) async -> Int {
        0
    }

    /// Hits, misses, errors (timeouts, connection errors, operations skipped by the open breaker,
    /// error replies), corrupt values and lookup latency percentiles over the last 2048 lookups.
    /// `entries` and `bytes` are 0: Redis cannot count one namespace cheaply.
    public func statistics() async -> TierStatistics {
        state.withLock { state in
            TierStatistics(
                name: name, hits: state.hits, misses: state.misses, corrupt: state.corrupt, errors: state.errors,
                p50Micros: state.latency.percentile(0.5), p90Micros: state.latency.percentile(0.9),
                p99Micros: state.latency.percentile(0.99))
        }
    }

    /// Lets queued operations finish, then closes the connections and ends their threads.
    public func shutdown() async {
        loopConnections?.close()
        switch backend {
        case .single(let pool): await pool.shutdown()
        case .cluster(let cluster): await cluster.shutdown()
        }
    }

    // MARK: - Introspection

    /// `closed`, `open` or `half-open`.
    /// With a cluster: `open` when every master's breaker is open, `half-open` when some are,
    /// else `closed`.
    public var breakerState: String {
        switch backend {
        case .single: state.withLock { $0.breaker.stateName }
        case .cluster(let cluster): cluster.breakerSummary
        }
    }

    /// Writes Redis refused with an OOM error (full, with `noeviction`): not stored, and not a
    /// failure of the server.
    public var rejectedWrites: Int {
        state.withLock { $0.rejectedWrites }
    }

    /// Entries not sent because they exceed `maxEntryBytes` once encoded.
    public var oversizedEntries: Int {
        state.withLock { $0.oversized }
    }

    /// Sends `PING` and throws the reason when Redis cannot be reached or refuses the
    /// credentials; for health checks and start-up diagnostics. Bypasses the breaker.
    public func ping() async throws(RedisError) {
        let reply = try await send(key: banSetKey, [[ByteBuffer(string: "PING")]])[0]
        if case .error(let message) = reply, message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
            throw .authenticationFailed(message)
        }
        guard reply == .status("PONG") else { throw .protocolError("PING answered \(reply)") }
    }

    /// Sends one raw command, bypassing the breaker; for tests and diagnostics.
    func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        let buffers = arguments.map { ByteBuffer(string: $0) }
        return try await send(key: arguments.count > 1 ? arguments[1] : "", [buffers])[0]
    }

    // MARK: - Internals

    /// Sends `commands`, all about the Redis key `key`, in one round trip: to the one server
    /// through the tier's breaker, or to the master of `key`'s slot through that master's breaker
    /// (`read`: read-only commands, which may go to a replica when `readFromReplicas` is on).
    /// Error replies that mean "cannot work" (`NOAUTH`) are failures; other error replies are
    /// returned.
    func perform(key: String, _ commands: [[ByteBuffer]], read: Bool = false) async -> Result<[RedisReply], RedisError> {
        switch backend {
        case .single(let pool):
            return await performSingle { () async throws(RedisError) in
                try await pool.pipeline(commands).map { reply throws(RedisError) in try Self.checked(reply) }
            }
        case .cluster(let cluster):
            do throws(RedisError) {
                let replies = read ? try await cluster.read(key: key, commands) : try await cluster.run(key: key, commands)
                return .success(try replies.map { reply throws(RedisError) in try Self.checked(reply) })
            } catch {
                state.withLock { $0.errors += 1 }
                return .failure(error)
            }
        }
    }

    /// One command per Redis key, each answer in order: one pipeline on a single server; in a
    /// cluster one round trip per key to its master, in parallel, so no command spans slots.
    func performEach(_ commands: [(key: String, command: [ByteBuffer])], read: Bool = false) async -> [Result<RedisReply, RedisError>] {
        guard !commands.isEmpty else { return [] }
        switch backend {
        case .single:
            switch await perform(key: commands[0].key, commands.map(\.command)) {
            case .success(let replies): return replies.map { .success($0) }
            case .failure(let error): return Array(repeating: .failure(error), count: commands.count)
            }
        case .cluster:
            return await withTaskGroup(of: (Int, Result<RedisReply, RedisError>).self) { group in
                for (index, command) in commands.enumerated() {
                    group.addTask { (index, await self.perform(key: command.key, [command.command], read: read).map { $0[0] }) }
                }
                var results = Array(repeating: Result<RedisReply, RedisError>.failure(.shutDown), count: commands.count)
                for await (index, result) in group { results[index] = result }
                return results
            }
        }
    }

    /// `commands` on one node, unrouted (a `SCAN` page): the single server, or the master at
    /// `node` in a cluster.
    func perform(on node: RedisNodeAddress?, _ commands: [[ByteBuffer]]) async -> Result<[RedisReply], RedisError> {
        switch backend {
        case .single:
            return await perform(key: "", commands)
        case .cluster(let cluster):
            guard let node else { return .failure(.protocolError("no cluster node named")) }
            do throws(RedisError) {
                return .success(try await cluster.perform(on: node, commands).map { reply throws(RedisError) in try Self.checked(reply) })
            } catch {
                state.withLock { $0.errors += 1 }
                return .failure(error)
            }
        }
    }

    /// Sends `commands` about `key`, bypassing the tier's breaker (bans, health checks).
    func send(key: String, _ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        switch backend {
        case .single(let pool): try await pool.pipeline(commands)
        case .cluster(let cluster): try await cluster.run(key: key, commands)
        }
    }

    /// Runs `body` on a connection unless the breaker says skip, and feeds the outcome back into
    /// the breaker. Transitions are logged here, once each.
    private func performSingle<Value: Sendable>(
        _ body: () async throws(RedisError) -> Value
    ) async -> Result<Value, RedisError> {
        guard let permission = admit() else { return .failure(.breakerOpen) }
        do {
            let value = try await body()
            settle(permission, failure: nil)
            return .success(value)
        } catch {
            settle(permission, failure: error)
            return .failure(error)
        }
    }

    /// Turns the error replies that mean "this connection cannot work" into thrown errors, so
    /// they count towards the breaker; other replies, including other errors, are returned.
    private static func checked(_ reply: RedisReply) throws(RedisError) -> RedisReply {
        if case .error(let message) = reply, message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
            throw .authenticationFailed(message)
        }
        return reply
    }

    /// The entry in a `GET` reply, verified against the full key and `now`. A damaged value is
    /// counted and deleted; another key's value (a digest collision) is simply a miss.
    private func decode(_ reply: RedisReply, key: String, redisKey: ByteBuffer, now: UnixMillis) -> CacheEntry? {
        switch reply {
        case .bulk(let buffer):
            do throws(EntryCodecError) {
                let decoded = try EntryCodec.decode(buffer, expectedKey: key, sealer: sealer)
                // L3 values are written with identity bodies; a gzip body came from a writer
                // this tier cannot serve without re-coding.
                guard decoded.bodyEncoding == .identity, decoded.entry.timing.storageExpiry > now else { return nil }
                return decoded.entry
            } catch .keyMismatch {
                return nil
            } catch .keyUnavailable {
                // Sealed under another key id (rotated, or another node's): a miss; the value is
                // left for the nodes that hold that key, and the next fill here replaces it.
                return nil
            } catch {
                state.withLock { $0.corrupt += 1 }
                switch backend {
                case .single(let pool):
                    pool.send([[ByteBuffer(string: "DEL"), redisKey]])
                case .cluster(let cluster):
                    Task { _ = try? await cluster.run(key: String(buffer: redisKey), [[ByteBuffer(string: "DEL"), redisKey]]) }
                }
                return nil
            }
        case .error:
            state.withLock { $0.errors += 1 }
            return nil
        default:
            return nil
        }
    }

    private static func micros(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000)
    }
}

/// True for the first caller of `claim()` only.
private final class OnceFlag: Sendable {
    private let claimed = Atomic<Bool>(false)

    func claim() -> Bool {
        !claimed.exchange(true, ordering: .relaxed)
    }
}
