import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaStorage
import Synchronization
import Testing

/// An origin that answers every GET at once with its path as the body, cacheable for a minute.
private struct PathOrigin: OriginClient {
    func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        let now = SystemWallClock().now()
        return eventLoop.makeSucceededFuture(
            OriginResponse(
                status: 200, headers: [HTTPField(name: "Cache-Control", value: "public, max-age=60")],
                body: ByteBuffer(string: request.url), requestTime: now, responseTime: now))
    }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        fetch(request, on: eventLoop).map { $0.streaming(on: eventLoop) }
    }
}

/// The answer to one GET: whether it came from the cache, and its body. Every future here
/// completes on the embedded loop, inline.
private final class Answer: Sendable {
    private let value = Mutex<ProxyResponse?>(nil)

    var isHit: Bool {
        guard case .hit? = value.withLock({ $0?.cacheStatus }) else { return false }
        return true
    }
    var body: String { value.withLock { $0?.body.map { String(buffer: $0) } ?? "" } }

    init(_ result: ProxyResult) {
        switch result {
        case .immediate(let response): value.withLock { $0 = response }
        case .deferred(let future): future.whenSuccess { response in self.value.withLock { $0 = response } }
        }
    }
}

@Suite("A connection's memo of its last head")
struct RequestMemoTests {
    private static func route(_ name: String, _ match: String) throws -> Route {
        Route(name: name, match: match, origin: try #require(Origin(url: "http://origin.test")), methods: ["GET"])
    }

    /// A request for `path` from one client, its head remembered under `serial` in `memo`.
    private static func request(_ method: HTTPMethod, _ path: String, serial: UInt64, memo: RequestMemo) -> ProxyRequest {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "proxy.test")
        return ProxyRequest(
            head: head, upload: nil, peer: "192.0.2.1", interimSink: nil, number: max(1, serial), headSerial: serial, memo: memo)
    }

    /// The route that refused a POST (405, whose message names it), or nil.
    private static func refusingRoute(
        _ engine: ProxyEngine, _ path: String, serial: UInt64, memo: RequestMemo, on loop: EmbeddedEventLoop
    ) -> String? {
        let request = request(.POST, path, serial: serial, memo: memo)
        guard case .immediate(let response) = engine.respond(to: request, on: loop), response.status == .methodNotAllowed else {
            return nil
        }
        return response.body.map { String(buffer: $0) }?.components(separatedBy: "on route ").last?.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @Test("a head with the memo's serial takes what the memo holds; another serial is worked out and replaces it")
    func sameSerialIsTakenAgain() throws {
        let loop = EmbeddedEventLoop()
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([try Self.route("x", "/x/*"), try Self.route("y", "/y/*")])),
            cache: TieredCache(), origin: NoOrigin())
        let memo = RequestMemo()
        #expect(Self.refusingRoute(engine, "/x/1", serial: 7, memo: memo, on: loop) == "x")
        #expect(memo.serial == 7)
        #expect(memo.value != nil)
        // The serial promises the same head: the memo is taken, not the target read again.
        #expect(Self.refusingRoute(engine, "/y/1", serial: 7, memo: memo, on: loop) == "x")
        // A new serial is a new head.
        #expect(Self.refusingRoute(engine, "/y/1", serial: 8, memo: memo, on: loop) == "y")
        #expect(memo.serial == 8)
        // Serial 0 (a head from NIO's decoder) never uses or fills the memo.
        #expect(Self.refusingRoute(engine, "/x/1", serial: 0, memo: memo, on: loop) == "x")
        #expect(memo.serial == 8)
    }

    @Test("a reload of the routes makes the memo stale: the same head is worked out again under the new routes")
    func reloadInvalidates() throws {
        let loop = EmbeddedEventLoop()
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([try Self.route("a", "/x/*")])), cache: TieredCache(), origin: NoOrigin())
        let memo = RequestMemo()
        #expect(Self.refusingRoute(engine, "/x/1", serial: 3, memo: memo, on: loop) == "a")
        // /x/* is now the second route: a memo kept across the reload would name the first.
        engine.reload(routes: RouteTable([try Self.route("c", "/y/*"), try Self.route("b", "/x/*")]), trustedProxies: [])
        #expect(Self.refusingRoute(engine, "/x/1", serial: 3, memo: memo, on: loop) == "b")
    }

    @Test("a head with no route, or a bad target, is answered and not kept")
    func failuresAreNotKept() throws {
        let loop = EmbeddedEventLoop()
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([try Self.route("x", "/x/*")])), cache: TieredCache(), origin: NoOrigin())
        let memo = RequestMemo()
        #expect(Self.refusingRoute(engine, "/nowhere", serial: 5, memo: memo, on: loop) == nil)
        #expect(memo.serial == 0)
        #expect(memo.value == nil)
    }

    @Test("hits of remembered heads look L1 up with the key's hash the memo kept: each head finds its own entry")
    func hitsTakeTheKeptHash() throws {
        let loop = EmbeddedEventLoop()
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([try Self.route("x", "/x/*")])), cache: TieredCache(), origin: PathOrigin())
        let memo = RequestMemo()
        func get(_ path: String, serial: UInt64) -> Answer {
            Answer(engine.respond(to: Self.request(.GET, path, serial: serial, memo: memo), on: loop))
        }
        #expect(!get("/x/a", serial: 1).isHit)
        #expect(!get("/x/b", serial: 2).isHit)
        // Each head in turn, under a new serial and then again under the same one: a hash kept
        // from the other head, or none kept, would miss (and a wrong one fails an assertion).
        for serial in stride(from: UInt64(3), to: 11, by: 2) {
            let path = serial % 4 == 3 ? "/x/a" : "/x/b"
            let first = get(path, serial: serial)
            let again = get(path, serial: serial)
            #expect(first.isHit && again.isHit, "\(path), serial \(serial)")
            #expect(first.body.hasSuffix(path) && again.body.hasSuffix(path), "\(first.body), \(again.body)")
        }
    }
}
