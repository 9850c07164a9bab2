import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// An origin in memory. A GET of `/held` is answered only when the test calls `release`; `POST`s
/// get 204; any other GET gets 200 with `Cache-Control: no-store` (so its key becomes
/// hit-for-miss). Request and response times come from the injected clock.
private final class ScriptedOrigin: OriginClient {
    private struct Held {
        var promise: EventLoopPromise<OriginResponse>
        var requestTime: UnixMillis
    }

    private let held = Mutex<Held?>(nil)
    private let clock: ManualWallClock

    init(clock: ManualWallClock) {
        self.clock = clock
    }

    func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        let now = clock.now()
        if request.method == "GET", request.url.hasSuffix("/held") {
            let promise = eventLoop.makePromise(of: OriginResponse.self)
            held.withLock { $0 = Held(promise: promise, requestTime: now) }
            return promise.futureResult
        }
        let status = request.method == "POST" ? 204 : 200
        let headers = request.method == "POST" ? [] : [HTTPField(name: "Cache-Control", value: "no-store")]
        return eventLoop.makeSucceededFuture(
            OriginResponse(status: status, headers: headers, body: ByteBuffer(), requestTime: now, responseTime: now))
    }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        fetch(request, on: eventLoop).map { $0.streaming(on: eventLoop) }
    }

    /// Answers the held GET with a response any cache may store for a minute.
    func release() {
        guard let held = held.withLock({ $0 }) else { return }
        held.promise.succeed(
            OriginResponse(
                status: 200, headers: [HTTPField(name: "Cache-Control", value: "public, max-age=60")],
                body: ByteBuffer(string: "before the purge"), requestTime: held.requestTime, responseTime: clock.now()))
    }
}

/// What a deferred response delivered; every future here completes on the embedded loop, inline.
private final class Delivered: Sendable {
    private let value = Mutex<ProxyResponse?>(nil)

    var response: ProxyResponse? { value.withLock { $0 } }

    init(_ result: ProxyResult) {
        switch result {
        case .immediate(let response): value.withLock { $0 = response }
        case .deferred(let future): future.whenSuccess { response in self.value.withLock { $0 = response } }
        }
    }
}

/// An engine over `ScriptedOrigin` with one catch-all route, driven on an embedded event loop
/// from the test's own thread (every origin answer and engine step completes inline).
private struct Bench {
    let loop = EmbeddedEventLoop()
    let clock = ManualWallClock()
    let origin: ScriptedOrigin
    let engine: ProxyEngine

    init(maxHitForMissKeys: Int = 10_000, maxPurgeRecords: Int = 100_000) throws {
        origin = ScriptedOrigin(clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        engine = ProxyEngine(
            configuration: .init(routes: RouteTable([route]), maxHitForMissKeys: maxHitForMissKeys, maxPurgeRecords: maxPurgeRecords),
            cache: TieredCache(clock: clock), origin: origin, clock: clock)
    }

    func send(_ method: HTTPMethod, _ path: String) -> Delivered {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "proxy.test")
        return Delivered(engine.respond(to: ProxyRequest(head: head, peer: "192.0.2.1"), on: loop))
    }

    /// Starts a fill of `/held` at the clock's time, then purges `/held` (a POST to it) a
    /// second later; the fill's origin answer is still outstanding.
    func fillThenPurge() -> Delivered {
        let fill = send(.GET, "/held")
        #expect(fill.response == nil, "the fill waits on the origin")
        clock.advance(by: .seconds(1))
        #expect(send(.POST, "/held").response?.status == .noContent)
        #expect(engine.statistics.snapshot().invalidations == 1)
        clock.advance(by: .seconds(1))
        return fill
    }

    var stored: Int { engine.statistics.snapshot().stored }
}

private func cacheStatus(_ delivered: Delivered) -> String {
    delivered.response?.headers.first(name: "Cache-Status") ?? ""
}

@Suite("ProxyEngine purge and hit-for-miss memories")
struct PurgeMemoryTests {
    @Test("20,000 hit-for-miss keys, then an earlier purge still holds")
    func hitForMissNeverEvictsPurges() throws {
        let bench = try Bench()
        let fill = bench.fillThenPurge()
        for index in 0..<20_000 {
            #expect(bench.send(.GET, "/uncacheable/\(index)").response?.status == .ok)
        }
        #expect(bench.engine.statistics.snapshot().notStored == 20_000)

        bench.origin.release()
        #expect(fill.response?.status == .ok)
        #expect(cacheStatus(fill).contains("detail=purged"), "\(cacheStatus(fill))")
        #expect(bench.stored == 0)
        // Nothing was stored: the next request goes to the origin again.
        #expect(bench.send(.GET, "/held").response == nil)
        bench.origin.release()
    }

    @Test("20,000 purges of other URLs (POSTs), then an earlier purge still holds")
    func otherPurgesDoNotWipeOne() throws {
        let bench = try Bench()
        let fill = bench.fillThenPurge()
        for index in 0..<20_000 {
            #expect(bench.send(.POST, "/form/\(index)").response?.status == .noContent)
        }
        #expect(bench.engine.statistics.snapshot().invalidations == 20_001)

        bench.origin.release()
        #expect(cacheStatus(fill).contains("detail=purged"), "\(cacheStatus(fill))")
        #expect(bench.stored == 0)
    }

    @Test("a full purge memory forgets its least recently used record, and only that one")
    func purgeMemoryEvictsLeastRecentlyUsed() throws {
        let bench = try Bench(maxPurgeRecords: 3)
        let fill = bench.fillThenPurge()
        #expect(bench.send(.POST, "/a").response?.status == .noContent)
        #expect(bench.send(.POST, "/b").response?.status == .noContent)
        // The fourth record evicts the oldest, /held's: the fill sent before it is stored.
        #expect(bench.send(.POST, "/c").response?.status == .noContent)
        bench.origin.release()
        #expect(cacheStatus(fill).contains("stored"), "\(cacheStatus(fill))")
        #expect(bench.stored == 1)

        // One purge fewer fits beside /held's record, which then still refuses the fill.
        let second = try Bench(maxPurgeRecords: 3)
        let held = second.fillThenPurge()
        #expect(second.send(.POST, "/a").response?.status == .noContent)
        #expect(second.send(.POST, "/b").response?.status == .noContent)
        second.origin.release()
        #expect(cacheStatus(held).contains("detail=purged"), "\(cacheStatus(held))")
    }

    @Test("a full hit-for-miss memory forgets its least recently used key only")
    func hitForMissEvictsLeastRecentlyUsed() throws {
        let bench = try Bench(maxHitForMissKeys: 2)
        for path in ["/x", "/y", "/z"] {
            #expect(bench.send(.GET, path).response?.status == .ok)
        }
        // /x was forgotten: it may join a fill again. /y and /z still skip coalescing.
        #expect(cacheStatus(bench.send(.GET, "/x")).contains("hit-for-miss") == false)
        #expect(cacheStatus(bench.send(.GET, "/z")).contains("hit-for-miss"))
    }
}
