import NIOCore
import NIOHTTP1
import NIOPosix
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// A lower tier that has every key (a fresh entry made for it), and records on which thread
/// its loop-bound lookups came.
final class LoopRecordingTier: CacheTier {
    let name = "l3"
    let clock: ManualWallClock
    let onLoopLookups = Atomic<Int>(0)
    let offLoopLookups = Atomic<Int>(0)
    let asyncLookups = Atomic<Int>(0)

    init(clock: ManualWallClock) {
        self.clock = clock
    }

    func entry(_ key: String) -> CacheEntry {
        let now = clock.now()
        return CacheEntry(
            key: key, status: 200, headers: [HTTPField(name: "Cache-Control", value: "max-age=60")], body: ByteBuffer(string: "from l3"),
            timing: EntryTiming(
                requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: now + 60_000))
    }

    func get(_ key: String, now: UnixMillis, on eventLoop: any EventLoop) -> EventLoopFuture<CacheEntry?> {
        if eventLoop.inEventLoop {
            onLoopLookups.add(1, ordering: .relaxed)
        } else {
            offLoopLookups.add(1, ordering: .relaxed)
        }
        return eventLoop.makeSucceededFuture(entry(key))
    }

    func get(_ key: String, now: UnixMillis) async -> CacheEntry? {
        asyncLookups.add(1, ordering: .relaxed)
        return entry(key)
    }
    func set(_ entry: CacheEntry) async {}
    func remove(_ key: String) async {}
    func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int { 0 }
    func removeAll() async {}
    func removeExpired(now: UnixMillis) async -> Int { 0 }
    func statistics() async -> TierStatistics { TierStatistics(name: name) }
    func shutdown() async {}
}

@Suite("The lookup under L1 runs on the request's event loop", .timeLimit(.minutes(1)))
struct LowerLookupOnLoopTests {
    @Test("an L1 miss asks the lower tier from the request's own loop (so an L3 reply read by that loop resumes it), and serves its entry")
    func lookupRunsOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let clock = ManualWallClock()
        let tier = LoopRecordingTier(clock: clock)
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20, lowerTiers: [tier]), clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        let origin = SharedFillOrigin(clock: clock)
        let engine = ProxyEngine(configuration: .init(routes: RouteTable([route])), cache: cache, origin: origin, clock: clock)

        for (index, loop) in [group.next(), group.next(), group.next()].enumerated() {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/page?n=\(index)")
            head.headers.add(name: "Host", value: "proxy.test")
            let response: ProxyResponse
            switch engine.respond(to: ProxyRequest(head: head, peer: "192.0.2.1"), on: loop) {
            case .immediate(let answer): response = answer
            case .deferred(let future): response = try await future.get()
            }
            #expect(response.status == .ok)
            // Each URL is new to L1: the tier answers it.
            guard case .hit(_, let tier)? = response.cacheStatus else {
                Issue.record("expected a hit, got \(String(describing: response.cacheStatus))")
                continue
            }
            #expect(tier == "l3")
        }
        #expect(tier.onLoopLookups.load(ordering: .relaxed) == 3)
        #expect(tier.offLoopLookups.load(ordering: .relaxed) == 0)
        #expect(tier.asyncLookups.load(ordering: .relaxed) == 0)
        #expect(origin.count.load(ordering: .relaxed) == 0)
        await cache.shutdown()
        try await group.shutdownGracefully()
    }
}
