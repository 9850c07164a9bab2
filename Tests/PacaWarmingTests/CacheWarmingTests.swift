import Foundation
import NIOCore
import PacaCore
import PacaStorage
import PacaTestSupport
import PacaWarming
import Synchronization
import Testing

/// Holds loaders until opened, so a test controls when background loads finish.
actor Gate {
    private var open = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        guard !open else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func openAll() {
        open = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}

/// A per-key source that records the keys it was asked for, in order.
final class RecordingSource: Sendable {
    struct Failure: Error {}

    let calls = Mutex<[String]>([])
    let gate: Gate?
    let fails: Bool

    init(gate: Gate? = nil, fails: Bool = false) {
        self.gate = gate
        self.fails = fails
    }

    var loaded: [String] { calls.withLock { $0 } }

    func load(_ key: String) async throws -> CacheWarming.Item? {
        calls.withLock { $0.append(key) }
        if let gate { await gate.wait() }
        if fails { throw Failure() }
        return CacheWarming.Item(key: key, value: CacheValue(bytes: ByteBuffer(string: "value of \(key)")), ttl: .seconds(600))
    }
}

@Suite("CacheWarming")
struct CacheWarmingTests {
    static func make(
        at start: UnixMillis = monday, _ configuration: CacheWarming.Configuration = .init()
    ) -> (CacheWarming, TieredCache, ManualWallClock) {
        let clock = ManualWallClock(start: start)
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 8 << 20, memoryPolicy: .lru), clock: clock)
        return (CacheWarming(cache: cache, configuration: configuration, clock: clock), cache, clock)
    }

    /// Reads `key` `count` times over the minute before `end`.
    static func read(_ warming: CacheWarming, _ key: String, _ count: Int, before end: UnixMillis) {
        for index in 0..<Int64(count) { warming.recordAccess(key, at: end - minute + index * (minute / Int64(count))) }
    }

    @Test("bulk sources load every pass; a failing one is reported and the rest still warm")
    func bulkSources() async throws {
        struct Broken: Error {}
        let (warming, cache, _) = Self.make()
        warming.registerDataSource(name: "users") {
            (1...3).map { CacheWarming.Item(key: "user:\($0)", value: CacheValue(bytes: ByteBuffer(string: "\($0)")), ttl: .seconds(60)) }
        }
        warming.registerDataSource(name: "broken") { throw Broken() }
        let report = await warming.warmNow()
        #expect(report == CacheWarming.Report(warmed: 3, skippedFresh: 0, failedSources: ["broken"]))
        #expect(await cache.get("user:2") != nil)
    }

    @Test("startWarming warms at once and then every interval of the injected clock until stopped")
    func schedule() async throws {
        let (warming, _, _) = Self.make()
        let passes = Mutex(0)
        warming.registerDataSource(name: "count") {
            passes.withLock { $0 += 1 }
            return []
        }
        let clock = ManualClock()
        warming.startWarming(every: .seconds(60), clock: clock)
        await clock.waitForSleeper()
        #expect(passes.withLock { $0 } == 1)
        clock.advance(by: .seconds(60))
        await clock.waitForSleeper()
        #expect(passes.withLock { $0 } == 2)
        warming.stopWarming()
    }

    @Test("warmNow loads the keys read a lot lately, hottest first, and not the cold ones nor keys no source accepts")
    func hotKeysWarmed() async throws {
        let (warming, cache, clock) = Self.make(.init(maxConcurrentLoads: 1))
        let now = clock.now()
        Self.read(warming, "item:b", 20, before: now)
        Self.read(warming, "item:a", 30, before: now)
        Self.read(warming, "item:c", 10, before: now)
        Self.read(warming, "other:x", 30, before: now)
        warming.recordAccess("item:cold", at: now - 3 * hour)
        let source = RecordingSource()
        warming.registerDataSource(name: "items", keys: { $0.hasPrefix("item:") }, load: source.load)
        let report = await warming.warmNow()
        #expect(report == CacheWarming.Report(warmed: 3, skippedFresh: 0, failedSources: []))
        #expect(source.loaded == ["item:a", "item:b", "item:c"])
        #expect(await cache.get("item:a")?.bytes == ByteBuffer(string: "value of item:a"))
        #expect(await !cache.contains("item:cold"))
        #expect(await !cache.contains("other:x"))
    }

    @Test("keys the cache holds fresh are skipped; once expired they are loaded again")
    func freshSkipped() async throws {
        let (warming, cache, clock) = Self.make()
        Self.read(warming, "item:a", 20, before: clock.now())
        Self.read(warming, "item:b", 20, before: clock.now())
        await cache.set("item:a", bytes: [1], ttl: .seconds(30))
        let source = RecordingSource()
        warming.registerDataSource(name: "items", keys: { _ in true }, load: source.load)
        #expect(await warming.warmNow() == CacheWarming.Report(warmed: 1, skippedFresh: 1, failedSources: []))
        #expect(source.loaded == ["item:b"])
        #expect(await cache.get("item:a")?.bytes == ByteBuffer(bytes: [1]))
        clock.advance(by: .seconds(31))
        Self.read(warming, "item:a", 20, before: clock.now())
        #expect(await warming.warmNow() == CacheWarming.Report(warmed: 1, skippedFresh: 1, failedSources: []))
        #expect(source.loaded == ["item:b", "item:a"])
    }

    @Test("a key held fresh on disk only (not in memory) counts as fresh and is not loaded")
    func freshOnDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paca-warming-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualWallClock(start: monday)
        let disk = try DiskCache(directory: directory.path, maxBytes: 1 << 20, clock: clock, sweepClock: ManualClock(), threads: 1)
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20, memoryPolicy: .lru, lowerTiers: [disk]), clock: clock)
        let warming = CacheWarming(cache: cache, clock: clock)
        Self.read(warming, "item:a", 20, before: clock.now())
        Self.read(warming, "item:b", 20, before: clock.now())
        await cache.set("item:a", bytes: [1], ttl: .seconds(60))
        await cache.flushWrites()
        cache.memory.removeAll()
        let source = RecordingSource()
        warming.registerDataSource(name: "items", keys: { _ in true }, load: source.load)
        #expect(await warming.warmNow() == CacheWarming.Report(warmed: 1, skippedFresh: 1, failedSources: []))
        #expect(source.loaded == ["item:b"])
        await cache.shutdown()
    }

    @Test("a per-key source that throws is reported by name once; the other sources still warm")
    func failingSource() async throws {
        let (warming, cache, clock) = Self.make()
        for key in ["bad:1", "bad:2", "good:1", "good:2"] { Self.read(warming, key, 20, before: clock.now()) }
        let bad = RecordingSource(fails: true)
        let good = RecordingSource()
        warming.registerDataSource(name: "bad", keys: { $0.hasPrefix("bad:") }, load: bad.load)
        warming.registerDataSource(name: "good", keys: { $0.hasPrefix("good:") }, load: good.load)
        let report = await warming.warmNow()
        #expect(report == CacheWarming.Report(warmed: 2, skippedFresh: 0, failedSources: ["bad"]))
        #expect(Set(bad.loaded) == ["bad:1", "bad:2"])
        #expect(await cache.contains("good:1"))
        #expect(await cache.contains("good:2"))
    }

    @Test("a key read daily at 09:00 for a week is warmed by a pass at 08:55 the next day, not by one at 03:00")
    func seasonality() async throws {
        let (warming, cache, clock) = Self.make(.init(window: .seconds(30 * 60)))
        for d in 0..<Int64(7) {
            for i in 0..<Int64(10) { warming.recordAccess("report:daily", at: monday + d * day + 9 * hour + i * 30_000) }
        }
        let source = RecordingSource()
        warming.registerDataSource(name: "reports", keys: { $0.hasPrefix("report:") }, load: source.load)
        let next = monday + 7 * day
        // The probabilities of a read within the window, well apart from the 0.5 threshold.
        let night = try #require(warming.model.popularity.prediction(for: "report:daily", at: next + 3 * hour, within: 30 * minute))
        let morning = try #require(
            warming.model.popularity.prediction(for: "report:daily", at: next + 8 * hour + 55 * minute, within: 30 * minute))
        #expect(1 - exp(-night.score) < 0.1)
        #expect(1 - exp(-morning.score) > 0.7)
        clock.set(next + 3 * hour)
        #expect(await warming.warmNow().warmed == 0)
        #expect(await !cache.contains("report:daily"))
        clock.set(next + 8 * hour + 55 * minute)
        #expect(await warming.warmNow().warmed == 1)
        #expect(await cache.contains("report:daily"))
    }

    /// Ten visits a minute apart, each reading `source` and then `followers` a second apart, and
    /// twenty unrelated keys 20 s later, so the followers stand out from chance.
    static func trainSequence(_ warming: CacheWarming, source: String, followers: [String], start: UnixMillis) {
        for visit in 0..<Int64(10) {
            let time = start + visit * minute
            warming.recordAccess(source, at: time)
            for (index, follower) in followers.enumerated() { warming.recordAccess(follower, at: time + Int64(index + 1) * 1_000) }
            for noise in 0..<Int64(20) { warming.recordAccess("noise:\(visit):\(noise)", at: time + 20_000 + noise * 100) }
        }
    }

    @Test("reading A prefetches B, which follows A; a key that does not follow it is left alone")
    func followerPrefetch() async throws {
        let (warming, cache, clock) = Self.make()
        Self.trainSequence(warming, source: "page:A", followers: ["page:B"], start: clock.now() - 20 * minute)
        warming.recordAccess("page:C", at: clock.now() - minute)
        let source = RecordingSource()
        warming.registerDataSource(name: "pages", keys: { $0.hasPrefix("page:") }, load: source.load)
        warming.recordAccess("page:A")
        await warming.waitForPrefetches()
        #expect(source.loaded == ["page:B"])
        #expect(await cache.contains("page:B"))
        #expect(await !cache.contains("page:C"))
        #expect(warming.prefetchStatistics == CacheWarming.PrefetchStatistics(started: 1, loaded: 1))
        // B is now fresh: the next read of A checks the cache and loads nothing.
        warming.recordAccess("page:A")
        await warming.waitForPrefetches()
        #expect(source.loaded == ["page:B"])
        #expect(warming.prefetchStatistics == CacheWarming.PrefetchStatistics(started: 2, loaded: 1, skippedFresh: 1))
    }

    @Test("a flood of reads never has more than maxPendingPrefetches loads pending; the rest are dropped")
    func boundedPrefetches() async throws {
        let (warming, cache, clock) = Self.make(.init(maxPendingPrefetches: 2))
        let followers = ["page:B1", "page:B2", "page:B3", "page:B4"]
        Self.trainSequence(warming, source: "page:A", followers: followers, start: clock.now() - 20 * minute)
        let gate = Gate()
        let source = RecordingSource(gate: gate)
        warming.registerDataSource(name: "pages", keys: { $0.hasPrefix("page:") }, load: source.load)
        for _ in 0..<1_000 { warming.recordAccess("page:A") }
        let flooded = warming.prefetchStatistics
        #expect(flooded.started == 2)
        #expect(flooded.dropped >= 2)
        await gate.openAll()
        await warming.waitForPrefetches()
        #expect(Set(source.loaded) == ["page:B1", "page:B2"])
        #expect(warming.prefetchStatistics.loaded == 2)
        #expect(await cache.contains("page:B1"))
        #expect(await !cache.contains("page:B3"))
    }

    @Test("a saved model loaded into a new warmer predicts the same hot keys; a bad file is refused and the model kept")
    func persistence() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paca-warming-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.json").path
        let (first, _, clock) = Self.make()
        Self.read(first, "item:a", 20, before: clock.now())
        try first.saveModel(to: path)

        let (second, cache, _) = Self.make()
        try second.loadModel(from: path)
        let source = RecordingSource()
        second.registerDataSource(name: "items", keys: { _ in true }, load: source.load)
        #expect(await second.warmNow().warmed == 1)
        #expect(await cache.contains("item:a"))

        let foreign = directory.appendingPathComponent("foreign.json").path
        try Data("{}".utf8).write(to: URL(fileURLWithPath: foreign))
        #expect(throws: WarmingModelFileError.foreign(path: foreign)) { try second.loadModel(from: foreign) }
        #expect(second.model.popularity.keys["item:a"] != nil)
    }
}
