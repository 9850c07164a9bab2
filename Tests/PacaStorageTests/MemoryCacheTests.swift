import NIOCore
import PacaCore
import PacaStorage
import Testing

/// 2026-01-01T00:00:00Z, the time every entry here is fetched at.
private let t0: UnixMillis = 1_767_225_600_000

/// An entry under `key` with a body of `bodyBytes` bytes that leaves storage at `expiresAt`.
private func makeEntry(_ key: String, bodyBytes: Int = 0, expiresAt: UnixMillis = t0 + 3_600_000) -> CacheEntry {
    var body = ByteBufferAllocator().buffer(capacity: bodyBytes)
    body.writeRepeatingByte(UInt8(ascii: "x"), count: bodyBytes)
    let timing = EntryTiming(
        requestTime: t0, responseTime: t0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: expiresAt)
    return CacheEntry(key: key, status: 200, headers: [], body: body, timing: timing)
}

/// Collects what a cache reports through `set(_:evicted:)`.
private final class EvictionRecorder {
    private(set) var keys: [String] = []

    func record(_ entry: CacheEntry) { keys.append(entry.key) }
}

/// Keys `k0` … `k9`: all the same length, so same-sized bodies give same-cost entries.
private let sameCostKeys = (0..<10).map { "k\($0)" }

/// A single-shard cache that holds exactly `capacity` entries of `makeEntry(_, bodyBytes: 700)`.
private func cacheHolding(_ capacity: Int, policy: EvictionPolicy) -> MemoryCache {
    let cost = makeEntry("k0", bodyBytes: 700).memoryCost
    // maxEntryBytes is an eighth of the shard, so a budget of 8 entries admits each of them.
    precondition(capacity >= 8)
    return MemoryCache(maxBytes: capacity * cost, policy: policy, shardCount: 1)
}

@Suite("MemoryCache")
struct MemoryCacheTests {
    @Test("set then get returns the stored entry; remove deletes it")
    func setGetRemove() {
        let cache = MemoryCache(maxBytes: 1 << 20, shardCount: 1)
        let entry = makeEntry("v1|http://o|/a|f", bodyBytes: 10)
        #expect(cache.set(entry))
        #expect(cache.get("v1|http://o|/a|f", now: t0) === entry)
        #expect(cache.peek("v1|http://o|/a|f") === entry)
        #expect(cache.get("v1|http://o|/b|f", now: t0) == nil)
        #expect(cache.remove("v1|http://o|/a|f"))
        #expect(!cache.remove("v1|http://o|/a|f"))
        #expect(cache.get("v1|http://o|/a|f", now: t0) == nil)
        let stats = cache.statistics()
        #expect(stats.entries == 0)
        #expect(stats.bytes == 0)
    }

    @Test("a get with the key's hash computed before finds what a get with the key alone finds, in every shard")
    func getWithKeptHash() {
        let cache = MemoryCache(maxBytes: 1 << 20, shardCount: 8)
        let keys = (0..<32).map { "v1|http://origin.test|/items/\($0)" }
        for key in keys where key.hasSuffix("0") || key.hasSuffix("5") { cache.set(makeEntry(key, bodyBytes: 10)) }
        for key in keys {
            let kept = cache.get(key, hashValue: key.hashValue, now: t0)
            #expect(kept?.key == cache.get(key, now: t0)?.key)
            #expect((kept != nil) == (key.hasSuffix("0") || key.hasSuffix("5")), "\(key)")
        }
    }

    @Test("set replaces the entry under the same key and counts only the new one")
    func setReplaces() {
        let cache = MemoryCache(maxBytes: 1 << 20, shardCount: 1)
        let old = makeEntry("k", bodyBytes: 100)
        let new = makeEntry("k", bodyBytes: 300)
        var evicted: [String] = []
        cache.set(old)
        cache.set(new) { evicted.append($0.key) }
        #expect(cache.get("k", now: t0) === new)
        #expect(evicted.isEmpty, "a replaced entry is not an eviction")
        let stats = cache.statistics()
        #expect(stats.entries == 1)
        #expect(stats.bytes == new.memoryCost)
        #expect(stats.evictions == 0)
    }

    @Test("an entry is served until its storage expiry and gone at it")
    func storageExpiry() {
        let cache = MemoryCache(maxBytes: 1 << 20, shardCount: 1)
        cache.set(makeEntry("k", expiresAt: t0 + 1000))
        #expect(cache.get("k", now: t0 + 999) != nil)
        #expect(cache.get("k", now: t0 + 1000) == nil)
        // An expired get removes the entry, so it stays gone even for an earlier `now`.
        #expect(cache.get("k", now: t0) == nil)
        let stats = cache.statistics()
        #expect(stats.hits == 1)
        #expect(stats.misses == 2)
        #expect(stats.expirations == 1)
        #expect(stats.entries == 0)
        #expect(stats.bytes == 0)
    }

    @Test("removeExpired removes entries whose storage lifetime ended at or before now")
    func removeExpired() {
        let cache = MemoryCache(maxBytes: 1 << 20, shardCount: 1)
        cache.set(makeEntry("a", expiresAt: t0 + 10))
        cache.set(makeEntry("b", expiresAt: t0 + 20))
        cache.set(makeEntry("c", expiresAt: t0 + 30))
        #expect(cache.removeExpired(now: t0 + 5) == 0)
        #expect(cache.removeExpired(now: t0 + 20) == 2)
        #expect(cache.keys == ["c"])
        let stats = cache.statistics()
        #expect(stats.expirations == 2)
        #expect(stats.entries == 1)
        #expect(stats.bytes == makeEntry("c").memoryCost)
    }

    @Test("removeAll(where:) removes matching keys across all shards")
    func removeAllWhere() {
        let cache = MemoryCache(maxBytes: 64 << 20, shardCount: 16)
        for index in 0..<50 {
            cache.set(makeEntry("a/\(index)"))
            cache.set(makeEntry("b/\(index)"))
        }
        #expect(cache.removeAll { $0.hasPrefix("a/") } == 50)
        #expect(cache.keys.count == 50)
        #expect(cache.keys.allSatisfy { $0.hasPrefix("b/") })
        #expect(cache.get("a/7", now: t0) == nil)
        #expect(cache.get("b/7", now: t0) != nil)
        #expect(cache.statistics().bytes == (0..<50).reduce(0) { $0 + makeEntry("b/\($1)").memoryCost })
        cache.removeAll()
        #expect(cache.keys.isEmpty)
        #expect(cache.statistics().bytes == 0)
    }

    @Test("an entry over maxEntryBytes is refused and nothing is stored")
    func oversizeRefused() {
        // Costs count buffer capacity, which NIO may round up, so sizes come from memoryCost.
        let limit = makeEntry("fit", bodyBytes: 1000)
        let cache = MemoryCache(maxBytes: 8 * limit.memoryCost, shardCount: 1)
        #expect(cache.maxEntryBytes == limit.memoryCost)
        let big = makeEntry("big", bodyBytes: 4000)
        #expect(big.memoryCost > cache.maxEntryBytes)
        #expect(!cache.set(big))
        #expect(cache.get("big", now: t0) == nil)
        #expect(cache.statistics().entries == 0)
        #expect(cache.statistics().bytes == 0)

        // Exactly at the limit is admitted.
        #expect(cache.set(limit))
        #expect(cache.statistics().bytes == limit.memoryCost)
    }

    @Test("maxEntryBytes is at most an eighth of a shard's budget")
    func maxEntryBytesBound() {
        #expect(MemoryCache(maxBytes: 8000, shardCount: 1).maxEntryBytes == 1000)
        #expect(MemoryCache(maxBytes: 8000, shardCount: 1, maxEntryBytes: 500).maxEntryBytes == 500)
        #expect(MemoryCache(maxBytes: 8000, shardCount: 1, maxEntryBytes: 1_000_000).maxEntryBytes == 1000)
    }

    struct BudgetCase: Sendable, CustomTestStringConvertible {
        let maxBytes: Int
        let shardCount: Int
        var testDescription: String { "\(maxBytes >> 20)MB over \(shardCount) shard(s)" }
    }

    @Test(
        "the counted bytes never exceed maxBytes, with entries of mixed sizes",
        arguments: [
            BudgetCase(maxBytes: 4 << 20, shardCount: 1), BudgetCase(maxBytes: 4 << 20, shardCount: 4),
            BudgetCase(maxBytes: 16 << 20, shardCount: 16),
        ]
    )
    func budgetNeverExceeded(_ c: BudgetCase) {
        let cache = MemoryCache(maxBytes: c.maxBytes, shardCount: c.shardCount)
        var evictedCount = 0
        var refused = 0
        for index in 0..<2400 {
            // A deterministic spread of sizes up to the entry limit; every 50th is just over it.
            let size = index % 50 == 49 ? cache.maxEntryBytes : (index &* 7919) % (cache.maxEntryBytes - 512)
            let entry = makeEntry("key-\(index)", bodyBytes: size)
            let fits = entry.memoryCost <= cache.maxEntryBytes
            let stored = cache.set(entry) { _ in evictedCount += 1 }
            #expect(stored == fits, "set #\(index): cost \(entry.memoryCost), limit \(cache.maxEntryBytes)")
            if !stored { refused += 1 }
            let bytes = cache.statistics().bytes
            #expect(bytes <= c.maxBytes, "after set #\(index)")
            if bytes > c.maxBytes { return }
        }
        let stats = cache.statistics()
        #expect(refused >= 12, "every 50th entry is over the limit")
        // 2,400 entries of up to an eighth of a shard overflow every shard whatever the hash seed.
        #expect(evictedCount > 0, "the workload overflows the budget")
        #expect(stats.evictions == evictedCount)
        #expect(stats.entries + evictedCount + refused == 2400)
        // The counted bytes are exactly the live entries' costs.
        let live = cache.keys.compactMap { cache.peek($0) }
        #expect(live.count == stats.entries)
        #expect(live.reduce(0) { $0 + $1.memoryCost } == stats.bytes)
    }

    struct EvictionCase: Sendable, CustomTestStringConvertible {
        let policy: EvictionPolicy
        let scenario: String
        /// Reads made after `k0` … `k7` fill the cache and before `k8` is stored.
        let reads: [String]
        let victim: String
        var testDescription: String { "\(policy): \(scenario) → evicts \(victim)" }
    }

    static let evictionCases: [EvictionCase] = [
        .init(policy: .lru, scenario: "a read entry survives", reads: ["k0"], victim: "k1"),
        .init(policy: .fifo, scenario: "reads do not save the oldest", reads: ["k0"], victim: "k0"),
        .init(policy: .lfu, scenario: "a read entry survives", reads: ["k0"], victim: "k1"),
        .init(
            policy: .lru, scenario: "the least recent goes, however often read",
            reads: ["k0", "k0", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"], victim: "k0"),
        .init(
            policy: .fifo, scenario: "the oldest goes, however often read",
            reads: ["k0", "k0", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"], victim: "k0"),
        .init(
            policy: .lfu, scenario: "the frequently read one survives though least recent",
            reads: ["k0", "k0", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"], victim: "k1"),
        .init(
            policy: .lfu, scenario: "ties go to the least recently used",
            reads: ["k3", "k1", "k0", "k2", "k4", "k5", "k7", "k6"], victim: "k3"),
    ]

    @Test("eviction order per policy", arguments: evictionCases)
    func evictionOrder(_ c: EvictionCase) {
        let cache = cacheHolding(8, policy: c.policy)
        for key in sameCostKeys.prefix(8) { #expect(cache.set(makeEntry(key, bodyBytes: 700))) }
        #expect(cache.statistics().evictions == 0)
        for key in c.reads { #expect(cache.get(key, now: t0) != nil) }

        let recorder = EvictionRecorder()
        #expect(cache.set(makeEntry("k8", bodyBytes: 700), evicted: recorder.record))
        #expect(recorder.keys == [c.victim])
        #expect(cache.peek(c.victim) == nil)
        #expect(cache.peek("k8") != nil)
        for key in sameCostKeys.prefix(8) where key != c.victim { #expect(cache.peek(key) != nil, "\(key) kept") }
        let stats = cache.statistics()
        #expect(stats.evictions == 1)
        #expect(stats.entries == 8)
    }

    @Test("LFU: a new entry is the next victim when everything else was read")
    func lfuNewEntryIsNextVictim() {
        let cache = cacheHolding(8, policy: .lfu)
        for key in sameCostKeys.prefix(8) { cache.set(makeEntry(key, bodyBytes: 700)) }
        for key in sameCostKeys.prefix(8) { _ = cache.get(key, now: t0) }
        let recorder = EvictionRecorder()
        cache.set(makeEntry("k8", bodyBytes: 700), evicted: recorder.record)
        cache.set(makeEntry("k9", bodyBytes: 700), evicted: recorder.record)
        // k0 … k7 were read once (frequency 2); k8 never was (frequency 1).
        #expect(recorder.keys == ["k0", "k8"])
    }

    @Test("one large entry evicts as many entries as it needs, oldest first", arguments: [EvictionPolicy.lru, .lfu, .fifo])
    func largeEntryEvictsSeveral(policy: EvictionPolicy) {
        let keys = (0..<32).map { $0 < 10 ? "s0\($0)" : "s\($0)" }
        let small = makeEntry("s00", bodyBytes: 100).memoryCost
        let cache = MemoryCache(maxBytes: 32 * small, policy: policy, shardCount: 1)
        for key in keys { #expect(cache.set(makeEntry(key, bodyBytes: 100))) }
        #expect(cache.statistics().bytes == cache.maxBytes, "full to the byte")
        let large = makeEntry("big", bodyBytes: 2 * small)
        #expect(large.memoryCost <= cache.maxEntryBytes)
        let needed = (large.memoryCost + small - 1) / small
        #expect(needed >= 2)
        let recorder = EvictionRecorder()
        #expect(cache.set(large, evicted: recorder.record))
        #expect(recorder.keys == Array(keys.prefix(needed)))
        #expect(cache.statistics().bytes <= cache.maxBytes)
        #expect(cache.statistics().evictions == needed)
        #expect(cache.peek("big") === large)
    }

    @Test("hit, miss and eviction counters")
    func counters() {
        let cache = cacheHolding(8, policy: .lru)
        for key in sameCostKeys.prefix(8) { cache.set(makeEntry(key, bodyBytes: 700)) }
        _ = cache.get("k0", now: t0)
        _ = cache.get("k1", now: t0)
        _ = cache.get("absent", now: t0)
        _ = cache.peek("k2")  // peek is not a lookup
        cache.set(makeEntry("k8", bodyBytes: 700))
        cache.set(makeEntry("k9", bodyBytes: 700))
        let stats = cache.statistics()
        #expect(stats.hits == 2)
        #expect(stats.misses == 1)
        #expect(stats.evictions == 2)
        #expect(stats.expirations == 0)
        #expect(stats.entries == 8)
        #expect(stats.bytes == 8 * makeEntry("k0", bodyBytes: 700).memoryCost)
        // LRU: k0 and k1 were read, so k2 and k3 went.
        #expect(cache.peek("k2") == nil)
        #expect(cache.peek("k3") == nil)
        #expect(cache.peek("k0") != nil)
    }

    @Test("many tasks reading and writing at once keep the counts consistent")
    func concurrentAccess() async {
        let cache = MemoryCache(maxBytes: 64 << 20, policy: .lru, shardCount: 16)
        let taskCount = 8
        let keysPerTask = 400
        cache.set(makeEntry("shared"))
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<taskCount {
                group.addTask {
                    for index in 0..<keysPerTask {
                        let key = "t\(task)/\(index)"
                        cache.set(makeEntry(key, bodyBytes: index % 64))
                        _ = cache.get(key, now: t0)  // hit
                        _ = cache.get("absent/\(task)/\(index)", now: t0)  // miss
                        _ = cache.get("shared", now: t0)  // hit
                        if index % 4 == 0 { cache.remove(key) }
                    }
                }
            }
        }
        let stats = cache.statistics()
        let lookups = taskCount * keysPerTask
        #expect(stats.evictions == 0, "the budget is far from full")
        #expect(stats.hits == 2 * lookups)
        #expect(stats.misses == lookups)
        #expect(stats.entries == 1 + taskCount * keysPerTask * 3 / 4)
        #expect(cache.keys.count == stats.entries)
        #expect(cache.keys.compactMap { cache.peek($0) }.reduce(0) { $0 + $1.memoryCost } == stats.bytes)
    }
}
