import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// An origin in memory that answers every GET with 200, `max-age=60` and a 20 KB body (larger
/// than a 1 MB L1's W-TinyLFU window, so admission judges it at once). While `holding`, answers
/// wait until `releaseAll()`. Times come from the injected clock.
private final class HoldingOrigin: OriginClient {
    static let bodyBytes = 20_000

    private struct State {
        var holding = false
        var held: [(promise: EventLoopPromise<OriginResponse>, requestTime: UnixMillis)] = []
        var requests = 0
    }

    private let state = Mutex(State())
    private let clock: ManualWallClock

    init(clock: ManualWallClock) {
        self.clock = clock
    }

    var requests: Int { state.withLock { $0.requests } }

    /// Holds the answers to the requests that arrive from now on.
    func hold() {
        state.withLock { $0.holding = true }
    }

    /// Answers every held request and stops holding.
    func releaseAll() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for request in held { request.promise.succeed(answer(requestTime: request.requestTime)) }
    }

    private func answer(requestTime: UnixMillis) -> OriginResponse {
        var body = ByteBufferAllocator().buffer(capacity: Self.bodyBytes)
        body.writeRepeatingByte(UInt8(ascii: "c"), count: Self.bodyBytes)
        return OriginResponse(
            status: 200, headers: [HTTPField(name: "Cache-Control", value: "max-age=60")], body: body, requestTime: requestTime,
            responseTime: clock.now())
    }

    func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        let now = clock.now()
        let promise = eventLoop.makePromise(of: OriginResponse.self)
        let holding = state.withLock { state in
            state.requests += 1
            if state.holding { state.held.append((promise, now)) }
            return state.holding
        }
        if !holding { promise.succeed(answer(requestTime: now)) }
        return promise.futureResult
    }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        fetch(request, on: eventLoop).map { $0.streaming(on: eventLoop) }
    }
}

/// What a response delivered; every future here completes on the embedded loop, inline.
private final class Answer: Sendable {
    private let value = Mutex<ProxyResponse?>(nil)

    var response: ProxyResponse? { value.withLock { $0 } }

    /// The `Cache-Status` member, wherever the engine put it (a header, or the field the
    /// listener writes for answers from a stored entry).
    var cacheStatus: String {
        guard let response else { return "" }
        if let header = response.headers.first(name: "Cache-Status") { return header }
        switch response.cacheStatus {
        case .text(let text)?: return text
        case .hit(let ttl, let tier)?: return "paca; hit; ttl=\(ttl); detail=\(tier)"
        case nil: return ""
        }
    }

    init(_ result: ProxyResult) {
        switch result {
        case .immediate(let response): value.withLock { $0 = response }
        case .deferred(let future): future.whenSuccess { response in self.value.withLock { $0 = response } }
        }
    }
}

/// An engine over `HoldingOrigin` with one catch-all route and a 1 MB W-TinyLFU L1 (one shard)
/// without lower tiers, driven on an embedded event loop from the test's own thread.
private struct Bench {
    let loop = EmbeddedEventLoop()
    let clock = ManualWallClock()
    let origin: HoldingOrigin
    let cache: TieredCache
    let engine: ProxyEngine

    init(maxWaitersPerKey: Int = 10_000) throws {
        origin = HoldingOrigin(clock: clock)
        cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20, memoryPolicy: .tinyLFU), clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        engine = ProxyEngine(
            configuration: .init(routes: RouteTable([route]), maxWaitersPerKey: maxWaitersPerKey), cache: cache, origin: origin,
            clock: clock)
    }

    func get(_ path: String) -> Answer {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "proxy.test")
        return Answer(engine.respond(to: ProxyRequest(head: head, peer: "192.0.2.1"), on: loop))
    }

    /// Fills L1 with entries of about 16 KB (over the 10 KB window, so admission judges each at
    /// once), each looked up `lookups` times first, until admission refuses one: L1 is then
    /// full, with less than one such entry's room left, of keys more popular than any new one. A
    /// 20 KB answer (a 32 KB buffer) then needs room that only an eviction gives, and loses.
    /// The sketch does not age meanwhile: its sample grows with the entries (10 per entry),
    /// faster than the lookups.
    func fillWithHotEntries(lookups: Int = 6) {
        let memory = cache.memory
        let now = clock.now()
        for index in 0..<100 {
            let key = "hot-\(index)"
            for _ in 0..<lookups { _ = memory.get(key, now: now) }
            var body = ByteBufferAllocator().buffer(capacity: 16_000)
            body.writeRepeatingByte(UInt8(ascii: "h"), count: 16_000)
            let timing = EntryTiming(
                requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 3_600_000,
                storageExpiry: now + 3_600_000)
            if memory.insert(CacheEntry(key: key, status: 200, headers: [], body: body, timing: timing)) == .rejected { return }
        }
        Issue.record("admission never refused a hot entry: L1 is not full")
    }
}

@Suite("Admission refusal in the engine", .timeLimit(.minutes(1)))
struct AdmissionRefusalTests {
    @Test("refused by admission with no tier below: not stored, detail=cold, and the key is not hit-for-miss")
    func refusedIsColdAndNotHitForMiss() throws {
        let bench = try Bench()
        bench.fillWithHotEntries()
        let rejectionsBefore = bench.cache.memory.statistics().rejections

        let first = bench.get("/cold")
        #expect(first.response?.status == .ok)
        #expect(first.response?.body?.readableBytes == HoldingOrigin.bodyBytes)
        #expect(first.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; detail=cold")
        #expect(bench.cache.memory.statistics().rejections == rejectionsBefore + 1, "admission refused the fill")
        #expect(bench.engine.statistics.snapshot().stored == 0)
        #expect(bench.engine.statistics.snapshot().notStored == 1)
        #expect(bench.origin.requests == 1)

        // Not hit-for-miss: the next two requests coalesce, one origin request while it is held.
        bench.origin.hold()
        let leader = bench.get("/cold")
        let follower = bench.get("/cold")
        #expect(leader.response == nil)
        #expect(follower.response == nil, "the second request waits on the first one's fill")
        #expect(bench.origin.requests == 2, "one origin request for two coalesced requests")

        // The fill is refused again: the leader says so, and the follower (an uncacheable
        // outcome cannot serve it) fetches on its own, still not as hit-for-miss.
        bench.origin.releaseAll()
        #expect(leader.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; detail=cold")
        #expect(follower.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; detail=cold")
        #expect(bench.origin.requests == 3)
        #expect(bench.engine.statistics.snapshot().stored == 0)
    }

    @Test("the same fill with room in L1 is stored, so the refusal above is admission's doing")
    func admittedWithoutHotEntries() throws {
        let bench = try Bench()
        let first = bench.get("/cold")
        #expect(first.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=60")
        #expect(bench.get("/cold").cacheStatus == "paca; hit; ttl=60; detail=l1")
        #expect(bench.origin.requests == 1)
    }

    @Test("maxWaitersPerKey bounds the requests waiting on one fill: past it a request fetches alone")
    func waitersPerKeyBound() throws {
        let bench = try Bench(maxWaitersPerKey: 1)
        bench.origin.hold()
        let leader = bench.get("/w")
        let waiter = bench.get("/w")
        #expect(bench.origin.requests == 1, "the first waiter joins the fill")
        let alone = bench.get("/w")
        #expect(bench.origin.requests == 2, "the second waiter is past the bound and fetches alone")
        bench.origin.releaseAll()
        #expect(leader.cacheStatus.hasPrefix("paca; fwd=uri-miss; fwd-status=200; stored"))
        #expect(waiter.cacheStatus.contains("collapsed"), "\(waiter.cacheStatus)")
        #expect(alone.cacheStatus.contains("collapsed") == false, "\(alone.cacheStatus)")
        #expect(alone.response?.status == .ok)
    }
}
