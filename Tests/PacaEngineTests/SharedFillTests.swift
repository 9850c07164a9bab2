import NIOCore
import NIOHTTP1
import NIOPosix
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// An origin in memory: every GET gets `reply` (a cacheable 200 by default), or fails with `error`.
final class SharedFillOrigin: OriginClient {
    let cacheControl: String
    let error: OriginError?
    let clock: ManualWallClock
    let count = Atomic<Int>(0)

    init(cacheControl: String = "max-age=60", error: OriginError? = nil, clock: ManualWallClock) {
        self.cacheControl = cacheControl
        self.error = error
        self.clock = clock
    }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        count.add(1, ordering: .relaxed)
        if let error { return eventLoop.makeFailedFuture(error) }
        let response = OriginResponse(
            status: 200, headers: [HTTPField(name: "Cache-Control", value: cacheControl)], body: ByteBuffer(string: "from origin"),
            requestTime: clock.now(), responseTime: clock.now())
        return eventLoop.makeSucceededFuture(response.streaming(on: eventLoop))
    }
}

/// An L3 stand-in whose writes wait until `open()`, and which can hold one entry to be found.
final class SharedFillGatedTier: CacheTier {
    let name = "l3"
    let gate = AsyncStream<Void>.makeStream()
    let written = Atomic<Bool>(false)
    let stored: CacheEntry?

    init(stored: CacheEntry? = nil) {
        self.stored = stored
    }

    func open() { gate.continuation.finish() }

    func get(_ key: String, now: UnixMillis) async -> CacheEntry? { stored?.key == key ? stored : nil }
    func set(_ entry: CacheEntry) async {
        for await _ in gate.stream {}
        written.store(true, ordering: .sequentiallyConsistent)
    }
    func remove(_ key: String) async {}
    func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int { 0 }
    func removeAll() async {}
    func removeExpired(now: UnixMillis) async -> Int { 0 }
    func statistics() async -> TierStatistics { TierStatistics(name: name) }
    func shutdown() async {}
}

/// A nodes' lock that answers `acquisition` and records each release, with whether the L3
/// write had landed when it came.
final class SharedFillRecordingLock: SharedFillLock {
    let lockTimeout: Duration = .seconds(1)
    let acquisition: SharedFillAcquisition
    let tier: SharedFillGatedTier
    let releases = AsyncStream<(SharedFillRelease, Bool)>.makeStream()
    let acquired = Atomic<Int>(0)

    init(_ acquisition: SharedFillAcquisition, tier: SharedFillGatedTier) {
        self.acquisition = acquisition
        self.tier = tier
    }

    func acquire(_ key: String) async -> SharedFillAcquisition {
        acquired.add(1, ordering: .relaxed)
        return acquisition
    }
    func waitForRelease(_ key: String) async -> SharedFillWaitResult { .released }
    func release(_ lease: SharedFillLease, outcome: SharedFillRelease) async {
        releases.continuation.yield((outcome, tier.written.load(ordering: .sequentiallyConsistent)))
    }
}

/// The engine's side of coalescing across nodes, with the lock and L3 as stand-ins: when the
/// lock is freed, and what a node that lost it does.
@Suite("Coalescing across nodes: the engine's side", .timeLimit(.minutes(1)))
struct SharedFillTests {
    static func engine(_ origin: SharedFillOrigin, tier: SharedFillGatedTier, lock: SharedFillRecordingLock, clock: ManualWallClock) throws
        -> ProxyEngine
    {
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20, lowerTiers: [tier]), clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        return ProxyEngine(
            configuration: .init(routes: RouteTable([route])), cache: cache, origin: origin, clock: clock, sharedFillLock: lock)
    }

    static func get(_ engine: ProxyEngine, on loop: any EventLoop) async throws -> ProxyResponse {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/page")
        head.headers.add(name: "Host", value: "proxy.test")
        switch engine.respond(to: ProxyRequest(head: head, peer: "192.0.2.1"), on: loop) {
        case .immediate(let response): return response
        case .deferred(let future): return try await future.get()
        }
    }

    @Test("a stored fill frees the lock only once its entry is written to L3, so a node woken by the release finds it")
    func releaseAfterTheL3Write() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ManualWallClock()
        let tier = SharedFillGatedTier()
        let lock = SharedFillRecordingLock(.acquired(SharedFillLease(key: "k", token: "t")), tier: tier)
        let origin = SharedFillOrigin(clock: clock)
        let engine = try Self.engine(origin, tier: tier, lock: lock, clock: clock)

        let response = try await Self.get(engine, on: group.next())
        #expect(response.status == .ok)
        // The client has its answer; the L3 write is still held, so no release may have run.
        tier.open()
        var releases = lock.releases.stream.makeAsyncIterator()
        let release = await releases.next()
        #expect(release?.0 == .stored)
        #expect(release?.1 == true)
        try await group.shutdownGracefully()
    }

    @Test(
        "an answer that may not be shared leaves the pass marker; an origin failure frees the lock plainly",
        arguments: [("no-store", nil, SharedFillRelease.notShared), ("max-age=60", OriginError.connectFailed("refused"), .failed)])
    func releaseOutcomes(cacheControl: String, error: OriginError?, expected: SharedFillRelease) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ManualWallClock()
        let tier = SharedFillGatedTier()
        tier.open()
        let lock = SharedFillRecordingLock(.acquired(SharedFillLease(key: "k", token: "t")), tier: tier)
        let engine = try Self.engine(
            SharedFillOrigin(cacheControl: cacheControl, error: error, clock: clock), tier: tier, lock: lock, clock: clock)

        _ = try await Self.get(engine, on: group.next())
        var releases = lock.releases.stream.makeAsyncIterator()
        #expect(await releases.next()?.0 == expected)
        try await group.shutdownGracefully()
    }

    @Test("a node that finds the lock held and then released serves the other node's entry from L3, without the origin")
    func loserServesFromL3() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ManualWallClock(start: 1_000_000)
        let origin = SharedFillOrigin(clock: clock)
        // The entry exists only after the other node's fill: the first lookup (before the lock)
        // must miss, so the stand-in tier is given it under the key the engine will ask for.
        let probe = try Self.engine(
            origin, tier: SharedFillGatedTier(), lock: SharedFillRecordingLock(.unavailable, tier: SharedFillGatedTier()), clock: clock)
        let key = try #require(probe.primaryKey(forURL: "/page"))
        let entry = CacheEntry(
            key: key, status: 200, headers: [HTTPField(name: "Cache-Control", value: "max-age=60")], body: ByteBuffer(string: "from l3"),
            timing: EntryTiming(
                requestTime: clock.now(), responseTime: clock.now(), correctedInitialAge: 0, freshnessLifetime: 60_000,
                storageExpiry: clock.now() + 120_000))
        let tier = SharedFillLateTier(entry: entry)
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20, lowerTiers: [tier]), clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        let lock = SharedFillRecordingLock(.heldElsewhere, tier: SharedFillGatedTier())
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([route])), cache: cache, origin: origin, clock: clock, sharedFillLock: lock)

        let response = try await Self.get(engine, on: group.next())
        #expect(response.status == .ok)
        #expect(response.cacheStatus == .hit(ttl: 60, tier: "l3"))
        #expect(response.body == ByteBuffer(string: "from l3"))
        #expect(origin.count.load(ordering: .relaxed) == 0)
        #expect(engine.statistics.snapshot().sharedFill["served"] == 1)
        try await group.shutdownGracefully()
    }

    @Test("with the lock store unavailable the leader fetches at once and releases nothing")
    func unavailableFetches() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ManualWallClock()
        let tier = SharedFillGatedTier()
        tier.open()
        let lock = SharedFillRecordingLock(.unavailable, tier: tier)
        let origin = SharedFillOrigin(clock: clock)
        let engine = try Self.engine(origin, tier: tier, lock: lock, clock: clock)

        #expect(try await Self.get(engine, on: group.next()).status == .ok)
        #expect(origin.count.load(ordering: .relaxed) == 1)
        #expect(lock.acquired.load(ordering: .relaxed) == 1)
        #expect(engine.statistics.snapshot().sharedFill["unavailable"] == 1)
        lock.releases.continuation.finish()
        var releases = lock.releases.stream.makeAsyncIterator()
        #expect(await releases.next() == nil)
        try await group.shutdownGracefully()
    }
}

/// An L3 stand-in that misses the first lookup (before the lock) and has `entry` afterwards, as
/// when another node's fill lands in between.
final class SharedFillLateTier: CacheTier {
    let name = "l3"
    let entry: CacheEntry
    let lookups = Atomic<Int>(0)

    init(entry: CacheEntry) {
        self.entry = entry
    }

    func get(_ key: String, now: UnixMillis) async -> CacheEntry? {
        lookups.add(1, ordering: .relaxed).oldValue == 0 ? nil : (key == entry.key ? entry : nil)
    }
    func set(_ entry: CacheEntry) async {}
    func remove(_ key: String) async {}
    func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int { 0 }
    func removeAll() async {}
    func removeExpired(now: UnixMillis) async -> Int { 0 }
    func statistics() async -> TierStatistics { TierStatistics(name: name) }
    func shutdown() async {}
}
