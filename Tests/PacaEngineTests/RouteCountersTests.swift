import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaStorage
import Testing

@Suite("Per-route counters")
struct RouteCountersTests {
    private static func route(_ name: String) throws -> Route {
        Route(name: name, match: "/\(name)/*", origin: try #require(Origin(url: "http://origin.test")), methods: ["GET"])
    }

    /// Requests answered per route: each refused POST is one observation of its route's duration.
    private static func answered(_ engine: ProxyEngine) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: engine.statistics.routeSnapshots().map { ($0.name, $0.requestDuration.counts.reduce(0, +)) })
    }

    @Test("requests count on their own route, also after a reload that reorders and adds routes; every route is listed from the start")
    func countersFollowRoutes() throws {
        let loop = EmbeddedEventLoop()
        let engine = ProxyEngine(
            configuration: .init(routes: RouteTable([try Self.route("a"), try Self.route("b")])), cache: TieredCache(), origin: NoOrigin())
        func post(_ path: String) {
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
            head.headers.add(name: "Host", value: "proxy.test")
            guard case .immediate(let response) = engine.respond(to: ProxyRequest(head: head, peer: "192.0.2.1"), on: loop) else {
                Issue.record("not answered at once")
                return
            }
            #expect(response.status == .methodNotAllowed)
        }
        #expect(Self.answered(engine) == ["a": 0, "b": 0])
        post("/a/1")
        post("/b/1")
        post("/b/2")
        #expect(Self.answered(engine) == ["a": 1, "b": 2])
        engine.reload(routes: RouteTable([try Self.route("c"), try Self.route("b"), try Self.route("a")]), trustedProxies: [])
        #expect(Self.answered(engine) == ["a": 1, "b": 2, "c": 0])
        post("/a/2")
        post("/c/1")
        #expect(Self.answered(engine) == ["a": 2, "b": 2, "c": 1])
    }
}
