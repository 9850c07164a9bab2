public import NIOCore

/// A lower cache tier (L2 disk, L3 Redis) under the synchronous L1. Every operation is
/// best-effort: a tier that fails (disk full, Redis down) answers as a miss or drops the write,
/// counts the failure in its statistics, and never throws to the caller, so a request is always
/// answered from another tier or the origin.
public protocol CacheTier: Sendable {
    /// `l2`, `l3`: used in `Cache-Status` `detail=` and in metrics.
    var name: String { get }

    /// The entry under `key` if the tier has it and its storage lifetime has not ended at `now`.
    /// Implementations verify integrity (checksum, full key) before returning.
    func get(_ key: String, now: UnixMillis) async -> CacheEntry?

    /// `get(_:now:)` for a caller on `eventLoop`, completed on that loop. A tier that can answer
    /// on the loop itself (L3's per-loop connection) saves the thread hops of a task.
    func get(_ key: String, now: UnixMillis, on eventLoop: any EventLoop) -> EventLoopFuture<CacheEntry?>

    /// Stores `entry` until its `timing.storageExpiry`.
    func set(_ entry: CacheEntry) async

    /// Removes the entry under `key`.
    func remove(_ key: String) async

    /// Removes every entry whose full key satisfies `predicate`; returns how many.
    func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int

    /// Removes everything the tier holds (in its namespace).
    func removeAll() async

    /// Removes entries whose storage lifetime ended at or before `now`; returns how many.
    func removeExpired(now: UnixMillis) async -> Int

    /// Counters and sizes.
    func statistics() async -> TierStatistics

    /// Finishes queued writes and releases files, threads and connections.
    func shutdown() async

    /// Whether the tier holds `key` (cheaper than `get` where the tier keeps an index).
    func contains(_ key: String, now: UnixMillis) async -> Bool
}

extension CacheTier {
    /// Default: `get(_:now:)` in a task.
    public func get(_ key: String, now: UnixMillis, on eventLoop: any EventLoop) -> EventLoopFuture<CacheEntry?> {
        eventLoop.makeFutureWithTask { await get(key, now: now) }
    }

    /// Default: a full lookup.
    public func contains(_ key: String, now: UnixMillis) async -> Bool {
        await get(key, now: now) != nil
    }
}

/// What a tier reports about itself.
public struct TierStatistics: Sendable, Equatable {
    /// The tier's name.
    public var name: String
    /// Lookups that returned an entry.
    public var hits: Int
    /// Lookups that returned nothing.
    public var misses: Int
    /// Entries held (or an estimate where the backend cannot count cheaply).
    public var entries: Int
    /// Bytes held as the tier counts them (`st_blocks × 512` on disk).
    public var bytes: Int
    /// Entries removed to respect the budget.
    public var evictions: Int
    /// Entries found damaged (bad checksum, truncated, wrong key) and removed.
    public var corrupt: Int
    /// Operations that failed (I/O errors, timeouts, breaker open).
    public var errors: Int
    /// Median lookup latency in microseconds (0 when unknown).
    public var p50Micros: Int
    /// 90th-percentile lookup latency in microseconds (0 when unknown).
    public var p90Micros: Int
    /// 99th-percentile lookup latency in microseconds (0 when unknown).
    public var p99Micros: Int

    /// Creates statistics; every counter defaults to 0.
    public init(
        name: String, hits: Int = 0, misses: Int = 0, entries: Int = 0, bytes: Int = 0, evictions: Int = 0, corrupt: Int = 0,
        errors: Int = 0, p50Micros: Int = 0, p90Micros: Int = 0, p99Micros: Int = 0
    ) {
        self.name = name
        self.hits = hits
        self.misses = misses
        self.entries = entries
        self.bytes = bytes
        self.evictions = evictions
        self.corrupt = corrupt
        self.errors = errors
        self.p50Micros = p50Micros
        self.p90Micros = p90Micros
        self.p99Micros = p99Micros
    }
}
