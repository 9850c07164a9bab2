import Foundation
import NIOCore
import PacaCore
import PacaStorage
import Testing

/// A lower tier in memory, for tests of the tiering logic itself (the real L2 and L3 have their
/// own suites and end-to-end tests).
final class RecordingTier: CacheTier, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: CacheEntry] = [:]
    private(set) var sets = 0
    let name: String

    init(name: String) {
        self.name = name
    }

    func get(_ key: String, now: UnixMillis) async -> CacheEntry? {
        lock.withLock { entries[key].flatMap { $0.timing.storageExpiry > now ? $0 : nil } }
    }

    func set(_ entry: CacheEntry) async {
        lock.withLock {
            entries[entry.key] = entry
            sets += 1
        }
    }

    func remove(_ key: String) async { lock.withLock { _ = entries.removeValue(forKey: key) } }

    func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int {
        lock.withLock {
            let doomed = entries.keys.filter(predicate)
            for key in doomed { entries[key] = nil }
            return doomed.count
        }
    }

    func removeAll() async { lock.withLock { entries.removeAll() } }

    func removeExpired(now: UnixMillis) async -> Int {
        await removeAll { _ in false }
    }

    func statistics() async -> TierStatistics { TierStatistics(name: name, entries: lock.withLock { entries.count }) }

    func shutdown() async {}

    var keys: Set<String> { lock.withLock { Set(entries.keys) } }
    var setCount: Int { lock.withLock { sets } }
}

@Suite("TieredCache library API")
struct TieredCacheTests {
    static func make(l1: Int = 8 << 20, tiers: [any CacheTier] = []) -> (TieredCache, ManualWallClock) {
        let clock = ManualWallClock()
        return (TieredCache(configuration: .init(memoryMaxBytes: l1, memoryPolicy: .lru, lowerTiers: tiers), clock: clock), clock)
    }

    @Test("set, get, delete and TTL expiry")
    func basics() async throws {
        let (cache, clock) = Self.make()
        await cache.set("a", bytes: Array("hello".utf8), ttl: .seconds(10))
        #expect(await cache.get("a").map { String(buffer: $0.bytes) } == "hello")
        clock.advance(by: .seconds(11))
        #expect(await cache.get("a") == nil)
        await cache.set("b", value: CacheValue(bytes: ByteBuffer(string: "x"), metadata: ["kind": "demo"]), ttl: .seconds(60))
        #expect(await cache.get("b")?.metadata == ["kind": "demo"])
        await cache.delete("b")
        #expect(await cache.get("b") == nil)
    }

    @Test("writes go through to the lower tiers; a lower-tier hit is promoted to L1")
    func promotion() async throws {
        let l2 = RecordingTier(name: "l2")
        let (cache, _) = Self.make(tiers: [l2])
        await cache.set("k", bytes: [1, 2, 3], ttl: .seconds(60))
        await cache.flushWrites()
        #expect(l2.keys == ["k"])
        cache.memory.removeAll()
        #expect(await cache.get("k")?.bytes == ByteBuffer(bytes: [1, 2, 3]))
        #expect(cache.memory.peek("k") != nil)
        let stats = await cache.stats()
        #expect(stats.promotions == 1)
    }

    @Test("an L3 hit reaches L2 only on its second hit")
    func secondHitToL2() async throws {
        let l2 = RecordingTier(name: "l2")
        let l3 = RecordingTier(name: "l3")
        let (cache, clock) = Self.make(tiers: [l2, l3])
        let entry = CacheEntry(
            key: "shared", status: 200, headers: [], body: ByteBuffer(string: "v"),
            timing: EntryTiming(
                requestTime: clock.now(), responseTime: clock.now(), correctedInitialAge: 0, freshnessLifetime: 60_000,
                storageExpiry: clock.now() + 60_000))
        await l3.set(entry)
        #expect(await cache.getLower("shared", now: clock.now())?.tier == "l3")
        await cache.flushWrites()
        #expect(!l2.keys.contains("shared"))
        #expect(await cache.getLower("shared", now: clock.now())?.tier == "l3")
        await cache.flushWrites()
        #expect(l2.keys.contains("shared"))
    }

    @Test("past 100,000 keys hit once in L3, only the least recently hit is forgotten, not all")
    func lowerHitMemoryEvictsOldest() async throws {
        let l2 = RecordingTier(name: "l2")
        let l3 = RecordingTier(name: "l3")
        // L1 large enough that nothing is evicted (and so demoted to L2) during the test.
        let clock = ManualWallClock()
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 30, memoryPolicy: .lru, lowerTiers: [l2, l3]), clock: clock)
        let timing = EntryTiming(
            requestTime: clock.now(), responseTime: clock.now(), correctedInitialAge: 0, freshnessLifetime: 60_000,
            storageExpiry: clock.now() + 60_000)
        let count = 100_001
        for index in 0..<count {
            await l3.set(CacheEntry(key: "k\(index)", status: 200, headers: [], body: ByteBuffer(string: "v"), timing: timing))
        }
        for index in 0..<count {
            #expect(await cache.getLower("k\(index)", now: clock.now())?.tier == "l3")
        }
        // The newest first hit is still remembered: its second hit copies it to L2.
        #expect(await cache.getLower("k\(count - 1)", now: clock.now())?.tier == "l3")
        #expect(await cache.getLower("k\(count - 2)", now: clock.now())?.tier == "l3")
        // The oldest was forgotten to make room: this is a first hit again.
        #expect(await cache.getLower("k0", now: clock.now())?.tier == "l3")
        await cache.flushWrites()
        #expect(l2.keys == ["k\(count - 1)", "k\(count - 2)"])
    }

    @Test("entries evicted from L1 are demoted to L2 when they are not there yet")
    func demotion() async throws {
        let l2 = RecordingTier(name: "l2")
        let l3 = RecordingTier(name: "l3")
        let (cache, clock) = Self.make(l1: 1 << 20, tiers: [l2, l3])
        // Promote 40 entries from L3 straight into L1 (first L3 hit: not written to L2).
        for index in 0..<40 {
            let entry = CacheEntry(
                key: "p\(index)", status: 200, headers: [], body: ByteBuffer(repeating: 1, count: 30_000),
                timing: EntryTiming(
                    requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: .max / 4, storageExpiry: .max))
            await l3.set(entry)
            _ = await cache.getLower("p\(index)", now: clock.now())
        }
        await cache.flushWrites()
        let stats = await cache.stats()
        #expect(stats.memory.evictions > 0)
        #expect(stats.demotions == stats.memory.evictions)
        #expect(l2.keys.count == stats.demotions)
        #expect(stats.memory.bytes <= cache.memory.maxBytes)
    }

    @Test("invalidate(pattern:) removes matching keys from every tier and counts each key once")
    func invalidatePattern() async throws {
        let l2 = RecordingTier(name: "l2")
        let l3 = RecordingTier(name: "l3")
        let (cache, _) = Self.make(tiers: [l2, l3])
        for key in ["user:1", "user:2", "item:1"] { await cache.set(key, bytes: [0], ttl: .seconds(60)) }
        await cache.delete("absent")  // settles the write-behind copies into l2 and l3
        #expect(l2.keys.count == 3 && l3.keys.count == 3)
        // Only in the lower tiers: still one key.
        cache.memory.removeAll()
        await cache.set("user:3", bytes: [0], ttl: .seconds(60))
        let removed = await cache.invalidate(pattern: "user:*")
        #expect(removed == 3, "user:1, user:2 (in l2 and l3) and user:3 (in every tier), each counted once")
        #expect(l3.keys == ["item:1"])
        #expect(await cache.invalidate(pattern: "user:*") == 0)
        #expect(await cache.get("user:1") == nil)
        #expect(await cache.get("item:1") != nil)
        #expect(l2.keys == ["item:1"])
        await cache.clear()
        #expect(await cache.get("item:1") == nil)
        #expect(l2.keys.isEmpty)
    }

    @Test("batch get and set")
    func batch() async throws {
        let (cache, _) = Self.make()
        await cache.set([
            ("a", CacheValue(bytes: ByteBuffer(string: "1")), .seconds(5)), ("b", CacheValue(bytes: ByteBuffer(string: "2")), .seconds(5)),
        ])
        let found = await cache.get(["a", "b", "c"])
        #expect(found.keys.sorted() == ["a", "b"])
        let stats = await cache.stats()
        #expect(stats.hits == 2)
        #expect(stats.misses == 1)
    }

    @Test("Codable values round-trip as JSON")
    func codable() async throws {
        struct User: Codable, Equatable { var id: Int; var name: String }
        let (cache, _) = Self.make()
        try await cache.set("u", encoding: User(id: 7, name: "Ada"), ttl: .seconds(30))
        #expect(try await cache.get("u", as: User.self) == User(id: 7, name: "Ada"))
    }

    @Test("optimize drops expired entries from every tier")
    func optimize() async throws {
        let l2 = RecordingTier(name: "l2")
        let (cache, clock) = Self.make(tiers: [l2])
        await cache.set("short", bytes: [1], ttl: .seconds(1))
        await cache.set("long", bytes: [1], ttl: .seconds(100))
        clock.advance(by: .seconds(5))
        await cache.optimize()
        #expect(cache.memory.statistics().entries == 1)
    }

    @Test("contains answers for fresh values in any tier without counting a hit or a miss")
    func contains() async throws {
        let l2 = RecordingTier(name: "l2")
        let (cache, clock) = Self.make(tiers: [l2])
        await cache.set("a", bytes: [1], ttl: .seconds(10))
        #expect(await cache.contains("a"))
        #expect(await !cache.contains("b"))
        await cache.flushWrites()
        cache.memory.removeAll()
        #expect(await cache.contains("a"))
        clock.advance(by: .seconds(11))
        #expect(await !cache.contains("a"))
        let stats = await cache.stats()
        #expect(stats.hits == 0 && stats.misses == 0)
    }
}
