import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaStorage
import Testing

@Suite("A connection's memo of its last head")
struct RequestMemoTests {
    private static func route(_ name: String, _ match: String) throws -> Route {
        Route(name: name, match: match, origin: try #require(Origin(url: "http://origin.test")), methods: ["GET"])
    }

    /// The route that refused a POST (405, whose message names it), or nil.
    private static func refusingRoute(
        _ engine: ProxyEngine, _ path: String, serial: UInt64, memo: RequestMemo, on loop: EmbeddedEventLoop
    ) -> String? {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: "proxy.test")
        let request = ProxyRequest(
            head: head, upload: nil, peer: "192.0.2.1", interimSink: nil, number: 1, headSerial: serial, memo: memo)
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
}
