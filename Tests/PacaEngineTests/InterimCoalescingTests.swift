import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// An origin in memory that holds every request until `release()`, then sends each a
/// `103 Early Hints` through the request's interim hook and a cacheable 200.
private final class HintingOrigin: OriginClient {
    private let held = Mutex<[(OriginRequest, EventLoopPromise<OriginStreamingResponse>, any EventLoop)]>([])
    private let clock: ManualWallClock

    init(clock: ManualWallClock) {
        self.clock = clock
    }

    var requests: Int { held.withLock { $0.count } }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        let promise = eventLoop.makePromise(of: OriginStreamingResponse.self)
        held.withLock { $0.append((request, promise, eventLoop)) }
        return promise.futureResult
    }

    func release() {
        for (request, promise, eventLoop) in held.withLock({ $0 }) {
            request.onInterim?(InterimResponse(status: 103, headers: [HTTPField(name: "Link", value: "</a.css>; rel=preload")]))
            let response = OriginResponse(
                status: 200, headers: [HTTPField(name: "Cache-Control", value: "max-age=60")], body: ByteBuffer(string: "body"),
                requestTime: clock.now(), responseTime: clock.now())
            promise.succeed(response.streaming(on: eventLoop))
        }
    }
}

/// RFC 9110 §15.2 with coalescing: the origin's interim responses go to the request whose fetch
/// reached the origin (the fill's leader), never to the requests waiting on that fill.
@Suite("Interim responses and coalescing")
struct InterimCoalescingTests {
    @Test("two requests coalesced onto one fill: only the leader gets the 103; both get the 200")
    func leaderOnly() throws {
        let loop = EmbeddedEventLoop()
        let clock = ManualWallClock()
        let origin = HintingOrigin(clock: clock)
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 1 << 20), clock: clock)
        let route = Route(name: "all", match: "/*", origin: try #require(Origin(url: "http://origin.test")))
        let engine = ProxyEngine(configuration: .init(routes: RouteTable([route])), cache: cache, origin: origin, clock: clock)

        let interims = Mutex<[String: [Int]]>([:])
        let statuses = Mutex<[String: UInt]>([:])
        for name in ["leader", "follower"] {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/page")
            head.headers.add(name: "Host", value: "proxy.test")
            let request = ProxyRequest(
                head: head, peer: "192.0.2.1", interim: { interim in interims.withLock { $0[name, default: []].append(interim.status) } })
            guard case .deferred(let future) = engine.respond(to: request, on: loop) else {
                Issue.record("\(name) was answered without the origin")
                return
            }
            future.whenSuccess { response in statuses.withLock { $0[name] = response.status.code } }
        }
        #expect(origin.requests == 1)
        origin.release()
        loop.run()
        #expect(interims.withLock { $0 } == ["leader": [103]])
        #expect(statuses.withLock { $0 } == ["leader": 200, "follower": 200])
        try loop.syncShutdownGracefully()
    }
}
