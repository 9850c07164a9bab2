public import PacaCore
import Synchronization

/// L1: a byte-budgeted in-memory cache of `CacheEntry` values, split into shards that each have
/// their own lock, so event loops rarely contend. `get` is synchronous and allocation-free: the
/// hit path calls it on the connection's event loop.
///
/// The budget counts the key, the header block and body buffer capacity plus a fixed overhead
/// per entry (`CacheEntry.memoryCost`). Each shard holds `maxBytes / shardCount`; an entry larger
/// than `maxEntryBytes` (at most an eighth of a shard) is refused.
///
/// Under `.tinyLFU` every `get` — hit or miss — counts in the shard's frequency sketch, and `insert`
/// may refuse an entry that admission rejects (`SetResult.rejected`: a "cold" entry, for L2 only).
public final class MemoryCache: Sendable {
    /// What `insert(_:evicted:)` did with an entry.
    public enum SetResult: Sendable, Equatable {
        /// The entry is in the cache.
        case stored
        /// The entry is larger than `maxEntryBytes`; nothing was stored.
        case tooLarge
        /// Admission (`.tinyLFU` only) judged the entry less popular than what it would displace;
        /// nothing was stored.
        case rejected
    }

    /// Counters and sizes summed over all shards.
    public struct Statistics: Sendable, Equatable {
        /// Lookups that found a live entry.
        public var hits: Int
        /// Lookups that found nothing live.
        public var misses: Int
        /// Entries removed to make room.
        public var evictions: Int
        /// Entries removed because their storage lifetime had passed.
        public var expirations: Int
        /// Live entries.
        public var entries: Int
        /// Bytes counted against the budget.
        public var bytes: Int
        /// Entries that `insert` refused through admission (`SetResult.rejected`).
        public var rejections: Int

        /// Creates a set of counters.
        public init(
            hits: Int = 0, misses: Int = 0, evictions: Int = 0, expirations: Int = 0, entries: Int = 0, bytes: Int = 0,
            rejections: Int = 0
        ) {
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
            self.expirations = expirations
            self.entries = entries
            self.bytes = bytes
            self.rejections = rejections
        }
    }

    /// The budget in bytes, over all shards.
    public let maxBytes: Int
    /// The largest single entry admitted, in bytes.
    public let maxEntryBytes: Int
    /// The eviction policy of every shard.
    public let policy: EvictionPolicy

    private let shards: [LockedShard]
    private let shardMask: Int

    /// Creates a cache of `maxBytes` (over all shards) using `policy` (default LRU).
    /// - Parameters:
    ///   - shardCount: rounded up to a power of two; default 16, fewer when the budget is small.
    ///   - maxEntryBytes: default and upper bound: an eighth of a shard's budget.
    public init(maxBytes: Int, policy: EvictionPolicy = .lru, shardCount: Int = 16, maxEntryBytes: Int? = nil) {
        var count = 1
        // Small budgets get fewer shards so one shard can still hold a useful entry.
        while count < max(1, shardCount), maxBytes / (count * 2) >= 1 << 20 { count <<= 1 }
        self.maxBytes = max(0, maxBytes)
        self.policy = policy
        let perShard = self.maxBytes / count
        self.maxEntryBytes = min(maxEntryBytes ?? perShard / 8, perShard / 8)
        self.shardMask = count - 1
        self.shards = (0..<count).map { _ in LockedShard(ShardStore(policy: policy, maxBytes: perShard)) }
    }

    @inline(__always)
    private func shard(for key: String) -> Int {
        key.hashValue & shardMask
    }

    /// The entry under `key` if it is still within its storage lifetime at `now`. Records the
    /// access (recency, and under `.tinyLFU` frequency, for misses too).
    public func get(_ key: String, now: UnixMillis) -> CacheEntry? {
        // One hash picks the shard and feeds the sketch.
        get(key, hashValue: key.hashValue, now: now)
    }

    /// As `get(_:now:)`, with `key.hashValue` computed before (a caller that looks the same key
    /// up again and again keeps it: hashing a key of 40 bytes costs about 300 instructions).
    /// `hashValue` must be `key.hashValue` of this process.
    public func get(_ key: String, hashValue hash: Int, now: UnixMillis) -> CacheEntry? {
        assert(hash == key.hashValue, "get(_:hashValue:now:) with another key's hash")
        return shards[hash & shardMask].withLock { $0.get(key, hash: hash, now: now) }
    }

    /// The frequency sketch's estimate for `key`, 0 through 16 (always 0 unless the policy is
    /// `.tinyLFU`). For tests and diagnostics.
    public func estimatedFrequency(of key: String) -> Int {
        let hash = key.hashValue
        return shards[hash & shardMask].withLock { $0.frequency(hash: hash) }
    }

    /// The entry under `key`, without touching recency or expiry.
    public func peek(_ key: String) -> CacheEntry? {
        shards[shard(for: key)].withLock { $0.peek(key) }
    }

    /// Stores `entry`. Returns `false` when nothing was stored: it is larger than `maxEntryBytes`
    /// or admission rejected it (`insert(_:evicted:)` tells the two apart). Entries evicted to make
    /// room are passed to `evicted` after the shard's lock is released.
    @discardableResult
    public func set(_ entry: CacheEntry, evicted: ((CacheEntry) -> Void)? = nil) -> Bool {
        insert(entry, evicted: evicted) == .stored
    }

    /// Stores `entry` unless it is too large or (under `.tinyLFU`) admission rejects it; replaces
    /// any entry under its key. Entries evicted to make room — including window entries that lost
    /// admission later — are passed to `evicted` after the shard's lock is released; a rejected
    /// `entry` itself is not.
    @discardableResult
    public func insert(_ entry: CacheEntry, evicted: ((CacheEntry) -> Void)? = nil) -> SetResult {
        let cost = entry.memoryCost
        guard cost <= maxEntryBytes else { return .tooLarge }
        let hash = entry.key.hashValue
        let outcome = shards[hash & shardMask].withLock { $0.set(entry, cost: cost, hash: hash) }
        if let evicted { outcome.evicted.forEach(evicted) }
        return outcome.stored ? .stored : .rejected
    }

    /// Removes the entry under `key`; returns whether there was one.
    @discardableResult
    public func remove(_ key: String) -> Bool {
        shards[shard(for: key)].withLock { $0.remove(key) }
    }

    /// Removes every entry whose key satisfies `predicate`, one shard at a time; returns how many.
    @discardableResult
    public func removeAll(where predicate: (String) -> Bool) -> Int {
        shards.reduce(0) { total, shard in total + shard.withLock { $0.removeAll(where: predicate) } }
    }

    /// A purge over whole entries (keys, stored fields such as tags), one shard at a time:
    /// removes every entry `predicate` picks, or with `replace` rewrites it in place (a soft purge
    /// marks entries stale); with `dryRun` only counts. Returns how many were picked, vary markers
    /// (bookkeeping, not responses) not counted.
    @discardableResult
    public func purge(where predicate: (CacheEntry) -> Bool, replace: ((CacheEntry) -> CacheEntry)? = nil, dryRun: Bool = false) -> Int {
        shards.reduce(0) { total, shard in
            total + shard.withLock { $0.purge(where: predicate, replace: replace, dryRun: dryRun) }
        }
    }

    /// Removes entries whose storage lifetime has passed; returns how many.
    @discardableResult
    public func removeExpired(now: UnixMillis) -> Int {
        shards.reduce(0) { total, shard in total + shard.withLock { $0.removeExpired(now: now) } }
    }

    /// Removes everything.
    public func removeAll() {
        for shard in shards { shard.withLock { $0.removeAll() } }
    }

    /// Every live key (a snapshot, shard by shard).
    public var keys: [String] {
        shards.flatMap { shard in shard.withLock { $0.keys } }
    }

    /// Counters and sizes, summed shard by shard (never holding two locks).
    public func statistics() -> Statistics {
        var result = Statistics(hits: 0, misses: 0, evictions: 0, expirations: 0, entries: 0, bytes: 0)
        for shard in shards {
            shard.withLock { store in
                result.hits += store.hits
                result.misses += store.misses
                result.evictions += store.evictions
                result.expirations += store.expirations
                result.entries += store.count
                result.bytes += store.bytes
                result.rejections += store.rejections
            }
        }
        return result
    }
}

/// A shard and the lock that guards it (a `Mutex` cannot live in an array by itself).
private final class LockedShard: Sendable {
    private let mutex: Mutex<ShardStore>

    init(_ store: consuming ShardStore) {
        mutex = Mutex(store)
    }

    @inline(__always)
    func withLock<Result>(_ body: (inout ShardStore) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
