import Foundation
import NIOCore
import PacaTestSupport
import Testing

/// RFC 9111 §4.4 invalidation by unsafe methods, across nodes sharing one real `redis-server`:
/// an invalidation is a ban, shared through the ban set like an admin purge, so a write through
/// one node stops every node serving its copies (issue 13, "several nodes as one").
@Suite("Invalidation by unsafe methods across nodes (real Redis)", .serialized, .timeLimit(.minutes(1)))
struct SharedInvalidationTests {
    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            if seen.method == "GET" {
                return TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("ETag", "\"e\"")], body: "shared \(seen.uri)")
            }
            if seen.uri.hasSuffix("/broken") { return TestOrigin.Reply(status: 500, body: "failed") }
            if seen.uri.hasSuffix("/form") {
                return TestOrigin.Reply(
                    status: 201, headers: [("Location", "/s/created"), ("Content-Location", "/s/described")], body: "made")
            }
            return TestOrigin.Reply(status: 200, body: "done")
        }
    }

    /// Two nodes on one Redis, each with its own L1 and L2.
    static func nodes(_ redis: RedisServer, _ origin: TestOrigin) async throws -> (ProxyHarness, ProxyHarness) {
        let config = RedisPurgeTests.config(redis: redis)
        return (try await ProxyHarness.start(origin: origin, config: config), try await ProxyHarness.start(origin: origin, config: config))
    }

    /// Caches `path` on both nodes (A fills L1, L2 and L3; B reads it from L3 into its own L1)
    /// and checks that both now answer from L1.
    static func cacheOnBoth(_ path: String, _ a: ProxyHarness, _ b: ProxyHarness) async throws {
        _ = try await a.get(path)
        await a.app.cache.flushWrites()
        #expect(try await b.get(path).cacheStatus.hasSuffix("detail=l3"))
        await b.app.cache.flushWrites()
        #expect(try await a.get(path).cacheStatus.hasPrefix("paca; hit"))
        #expect(try await b.get(path).cacheStatus.hasPrefix("paca; hit"))
    }

    @Test(
        "a successful unsafe method through B bans the URL on A too: A's next GET goes to the origin, not to its L1 or L2 copy",
        arguments: ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
    func unsafeMethodThroughOneNodeReachesTheOther(method: String) async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let (a, b) = try await Self.nodes(redis, origin)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        try await Self.cacheOnBoth("/s/item", a, b)
        let before = origin.requestCount
        #expect(try await b.request(method, "/s/item", body: "changed").status == 200)
        await b.app.waitUntilBansShared()
        // A reads the ban set (every second in service; here on demand, so no waiting).
        await a.app.syncBans()
        let afterOnA = try await a.get("/s/item")
        #expect(afterOnA.cacheStatus.hasPrefix("paca; fwd=uri-miss"), "\(afterOnA.cacheStatus)")
        #expect(try await b.get("/s/item").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        // The unsafe request itself and A's refetch reached the origin.
        #expect(origin.requests.dropFirst(before).contains { $0.method == method })
        #expect(origin.requests.dropFirst(before).filter { $0.method == "GET" && $0.uri == "/s/item" }.count >= 1)
    }

    @Test("the same-host Location and Content-Location of the answer are banned on the other node as well")
    func locationTargetsAreShared() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let (a, b) = try await Self.nodes(redis, origin)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        try await Self.cacheOnBoth("/s/created", a, b)
        try await Self.cacheOnBoth("/s/described", a, b)
        try await Self.cacheOnBoth("/s/untouched", a, b)
        #expect(try await b.request("POST", "/s/form", body: "new").status == 201)
        await b.app.waitUntilBansShared()
        await a.app.syncBans()
        #expect(try await a.get("/s/created").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await a.get("/s/described").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await a.get("/s/untouched").cacheStatus.hasPrefix("paca; hit"))
    }

    @Test("an error answer to an unsafe method invalidates nothing, here or there")
    func errorAnswerIsNotShared() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let (a, b) = try await Self.nodes(redis, origin)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        try await Self.cacheOnBoth("/s/broken", a, b)
        #expect(try await b.request("POST", "/s/broken", body: "x").status == 500)
        await b.app.waitUntilBansShared()
        #expect(await a.app.syncBans() == 0)
        #expect(try await a.get("/s/broken").cacheStatus.hasPrefix("paca; hit"))
        #expect(try await b.get("/s/broken").cacheStatus.hasPrefix("paca; hit"))
    }

    @Test("a node that was down while the write was made drops its L2 copy when it comes back")
    func nodeAwayDuringTheWriteCatchesUp() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let (a, b) = try await Self.nodes(redis, origin)
        defer {
            Task {
                await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        try await Self.cacheOnBoth("/s/away", a, b)
        let directory = a.directory
        await a.shutdown(keepDirectory: true)
        #expect(try await b.request("DELETE", "/s/away").status == 200)
        await b.app.waitUntilBansShared()
        // Back with its L2 on disk: the ban it missed is read at start (and here on demand).
        let back = try await ProxyHarness.start(origin: origin, config: RedisPurgeTests.config(redis: redis), directory: directory)
        defer { Task { await back.shutdown() } }
        await back.app.syncBans()
        #expect(try await back.get("/s/away").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
    }

    @Test("on a Redis Cluster as L3: entries are shared, and a POST through one node invalidates the URL on the other")
    func sharedThroughACluster() async throws {
        let cluster = try await RedisClusterServer()
        let origin = try await Self.origin()
        let seeds = cluster.addresses.map { "\"\($0)\"" }.joined(separator: ", ")
        let config = catchAll(
            #", "admin": { "listen": "127.0.0.1:0" }, "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2" }, "l3": { "cluster": [\#(seeds)], "password_env": "PACA_TEST_CLUSTER_PASSWORD", "namespace": "paca-cluster", "timeout": "500ms" } }"#
        )
        let environment = ["PACA_TEST_CLUSTER_PASSWORD": cluster.password]
        let a = try await ProxyHarness.start(origin: origin, config: config, environment: environment)
        let b = try await ProxyHarness.start(origin: origin, config: config, environment: environment)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await cluster.stop()
            }
        }

        for index in 0..<6 { try await Self.cacheOnBoth("/s/c\(index)", a, b) }
        #expect(try await b.request("POST", "/s/c3", body: "changed").status == 200)
        await b.app.waitUntilBansShared()
        await a.app.syncBans()
        #expect(try await a.get("/s/c3").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await a.get("/s/c2").cacheStatus.hasPrefix("paca; hit"))
    }
}
