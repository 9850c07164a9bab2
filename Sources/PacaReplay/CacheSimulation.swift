import NIOCore
public import PacaAccessLog
import PacaCore
public import PacaStorage

/// Replays a log offline through `MemoryCache`'s policy code at several sizes and policies in
/// one pass: each request is keyed once (`SimulationKeying`), then looked up in every
/// configuration, and stored on a miss as the proxy would, with the log's size and TTL.
///
/// Time is the log's: each request's timestamp (a log without them, such as a plain trace,
/// advances one second per request, so a trace's `ttl` counts requests). An entry expires when
/// its TTL has passed (storage lifetime = freshness here: revalidations count as misses).
public final class CacheSimulation {
    /// One cache configuration to simulate.
    public struct Configuration: Sendable, Hashable {
        /// The eviction/admission policy.
        public var policy: EvictionPolicy
        /// The budget in bytes.
        public var sizeBytes: Int

        /// Creates a configuration.
        public init(policy: EvictionPolicy, sizeBytes: Int) {
            self.policy = policy
            self.sizeBytes = sizeBytes
        }
    }

    /// What one configuration counted.
    public struct Result: Sendable, Equatable {
        /// The configuration.
        public var configuration: Configuration
        /// Cacheable requests answered from the cache.
        public var hits: Int
        /// Body bytes of those hits.
        public var hitBytes: Int
        /// Entries refused because they were larger than the largest entry allowed.
        public var tooLarge: Int
    }

    /// Options that apply to every configuration.
    public struct Options: Sendable {
        /// Shards per cache, as `MemoryCache`'s `shardCount` (default 16, paca's L1; 1 gives the
        /// textbook policy over the whole budget).
        public var shardCount: Int = 16
        /// Bytes counted per entry on top of its body (L1 also counts key, headers and about
        /// 256 bytes of bookkeeping). Default 0: the body only, as cache simulators count.
        public var entryOverheadBytes: Int = 0
        /// The largest entry, as a fraction of a shard; default 1/8 as `MemoryCache`.
        public var maxEntryFraction: Double = 0.125

        /// Creates the defaults.
        public init() {}
    }

    /// Requests replayed (cacheable or not).
    public private(set) var requests = 0
    /// Body bytes of all requests.
    public private(set) var requestBytes = 0
    /// Requests that were not cacheable (see `SimulationKeying.Decision.uncacheable`).
    public private(set) var uncacheable = 0
    /// Distinct keys seen (cacheable requests).
    public var distinctKeys: Int { distinctSizes.count }
    /// Bytes of every distinct object, at its last size: the budget at which only first
    /// requests (and expiries) miss.
    public private(set) var distinctBytes = 0

    private let keying: SimulationKeying
    private let options: Options
    private let configurations: [Configuration]
    private let caches: [MemoryCacheSimulator]
    private var hits: [Int]
    private var hitBytes: [Int]
    /// Each object's last size, by the 64-bit hash of its key (cheaper than the key itself; a
    /// collision among a few billion keys is unlikely and would only miscount the distinct set).
    private var distinctSizes: [UInt64: Int] = [:]
    private var clock: UnixMillis = 0
    private let emptyBody = ByteBuffer()

    /// Creates a simulation of `configurations`, keyed by `keying`.
    public init(configurations: [Configuration], keying: SimulationKeying, options: Options = Options()) {
        self.configurations = configurations
        self.keying = keying
        self.options = options
        caches = configurations.map { configuration in
            let shards = MemoryCacheSimulator.shardCount(maxBytes: configuration.sizeBytes, requested: options.shardCount)
            let perShard = max(0, configuration.sizeBytes) / shards
            return MemoryCacheSimulator(
                maxBytes: configuration.sizeBytes, policy: configuration.policy, shardCount: options.shardCount,
                maxEntryBytes: Int(Double(perShard) * options.maxEntryFraction))
        }
        hits = Array(repeating: 0, count: configurations.count)
        hitBytes = Array(repeating: 0, count: configurations.count)
    }

    /// Replays one request in every configuration.
    public func record(_ request: LogRequest) {
        requests += 1
        let bytes = max(0, request.bytes ?? 0)
        requestBytes += bytes
        if let timestamp = request.timestamp { clock = max(clock, timestamp) } else { clock += 1000 }
        guard case .cacheable(let key, let ttlSeconds) = keying.decide(request) else {
            uncacheable += 1
            return
        }
        let fullHash = FNV1a.hash(key)
        let previous = distinctSizes.updateValue(bytes, forKey: fullHash)
        distinctBytes += bytes - (previous ?? 0)
        let hash = Int(truncatingIfNeeded: fullHash)
        let now = clock
        var entry: CacheEntry?
        for index in caches.indices {
            let cache = caches[index]
            if cache.lookup(key, hash: hash, now: now) {
                hits[index] += 1
                hitBytes[index] += bytes
                continue
            }
            if entry == nil {
                let expiry = ttlSeconds.map { now + Int64($0) * 1000 } ?? .max
                let timing = EntryTiming(
                    requestTime: now, responseTime: now, correctedInitialAge: 0,
                    freshnessLifetime: ttlSeconds.map { Int64($0) * 1000 } ?? .max / 2, storageExpiry: expiry)
                entry = CacheEntry(key: key, status: 200, headers: [], body: emptyBody, timing: timing)
            }
            cache.insert(entry!, cost: bytes + options.entryOverheadBytes, hash: hash)
        }
    }

    /// Replays every request of `reader`; returns the reader's report.
    @discardableResult
    public func run(_ reader: LogReader) throws -> LogReadReport {
        try reader.forEach { record($0) }
    }

    /// The results, in the order of the configurations.
    public var results: [Result] {
        configurations.indices.map { index in
            Result(configuration: configurations[index], hits: hits[index], hitBytes: hitBytes[index], tooLarge: caches[index].tooLarge)
        }
    }

    /// `hits / requests` (0 without requests).
    public func objectHitRatio(_ result: Result) -> Double {
        requests == 0 ? 0 : Double(result.hits) / Double(requests)
    }

    /// `hit bytes / request bytes` (0 without bytes).
    public func byteHitRatio(_ result: Result) -> Double {
        requestBytes == 0 ? 0 : Double(result.hitBytes) / Double(requestBytes)
    }
}
