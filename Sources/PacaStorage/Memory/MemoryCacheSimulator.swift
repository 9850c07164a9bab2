public import PacaCore

/// `MemoryCache`'s eviction and admission code without its locks, for offline simulation on
/// one thread (`paca simulate`): the same `ShardStore` per shard, the same shard count and
/// largest-entry rules, but the caller gives each key's hash (a stable one, so a run gives the
/// same answer every time, which `String.hashValue` would not) and each entry's cost.
/// Not thread-safe (and not `Sendable`): one simulator per thread.
public final class MemoryCacheSimulator {
    /// The budget over all shards.
    public let maxBytes: Int
    /// The largest entry stored, as `MemoryCache` computes it from the shard budget.
    public let maxEntryBytes: Int
    /// The policy of every shard.
    public let policy: EvictionPolicy
    private let shards: [ShardBox]
    private let shardMask: Int
    /// Entries refused because they exceed `maxEntryBytes`.
    public private(set) var tooLarge = 0

    /// Creates a simulator of `MemoryCache(maxBytes:policy:shardCount:maxEntryBytes:)`: the
    /// same rule picks the number of shards (default 16, fewer for small budgets; 1 gives one
    /// global policy, the textbook algorithm).
    /// - Parameter maxEntryBytes: default as `MemoryCache`'s, an eighth of a shard; a simulation
    ///   of the textbook policy may allow up to the whole budget.
    public init(maxBytes: Int, policy: EvictionPolicy, shardCount: Int = 16, maxEntryBytes: Int? = nil) {
        let count = Self.shardCount(maxBytes: maxBytes, requested: shardCount)
        self.maxBytes = max(0, maxBytes)
        self.policy = policy
        let perShard = self.maxBytes / count
        self.maxEntryBytes = min(maxEntryBytes ?? perShard / 8, perShard)
        shardMask = count - 1
        shards = (0..<count).map { _ in ShardBox(ShardStore(policy: policy, maxBytes: perShard)) }
    }

    /// The shards `MemoryCache` uses for `maxBytes` when asked for `requested`: a power of two,
    /// halved until each shard holds at least 1 MiB.
    public static func shardCount(maxBytes: Int, requested: Int) -> Int {
        var count = 1
        while count < max(1, requested), maxBytes / (count * 2) >= 1 << 20 { count <<= 1 }
        return count
    }

    /// Looks `key` up as `MemoryCache.get` does (recording the access, expiring at `now`);
    /// returns whether it was a hit.
    public func lookup(_ key: String, hash: Int, now: UnixMillis) -> Bool {
        shards[hash & shardMask].store.get(key, hash: hash, now: now) != nil
    }

    /// Stores `entry` at `cost` bytes as `MemoryCache.insert` does.
    @discardableResult
    public func insert(_ entry: CacheEntry, cost: Int, hash: Int) -> MemoryCache.SetResult {
        guard cost <= maxEntryBytes else {
            tooLarge += 1
            return .tooLarge
        }
        return shards[hash & shardMask].store.set(entry, cost: cost, hash: hash).stored ? .stored : .rejected
    }

    /// Bytes held over all shards.
    public var bytes: Int {
        shards.reduce(0) { $0 + $1.store.bytes }
    }
}

/// A shard in a class: an array cannot hold a noncopyable `ShardStore` itself.
private final class ShardBox {
    var store: ShardStore

    init(_ store: consuming ShardStore) {
        self.store = store
    }
}
