import Foundation
import NIOCore
import PacaTestSupport
import Testing

/// Purges across all three tiers and across nodes sharing one real `redis-server`.
@Suite("Purge across tiers and nodes (real Redis)", .timeLimit(.minutes(1)))
struct RedisPurgeTests {
    static func config(redis: RedisServer) -> String {
        catchAll(
            #", "admin": { "listen": "127.0.0.1:0" }, "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2" }, "l3": { "url": "\#(redis.url)", "namespace": "paca-purge", "timeout": "500ms" } }"#
        )
    }

    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [
                    ("Cache-Control", "max-age=600"), ("ETag", "\"e\""),
                    ("Surrogate-Key", "k-\(seen.uri.split(separator: "/").last ?? "")"),
                ],
                body: "shared \(seen.uri)")
        }
    }

    @Test(
        "every purge form removes the entry from L1, L2 and L3: a node reading it from Redis afterwards goes to the origin",
        arguments: [#"{"pattern": "/p/*"}"#, #"{"regex": "/p/[a-z]+"}"#, #"{"url": "/p/one"}"#, #"{"tag": "k-one"}"#])
    func everyFormOnEveryTier(body: String) async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let first = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        let second = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        defer {
            Task {
                await first.shutdown(); await second.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        _ = try await first.get("/p/one")
        await first.app.cache.flushWrites()
        #expect(try await second.get("/p/one").cacheStatus.hasSuffix("detail=l3"))
        // Purge on the first node only; the second still has it in L1 and L2.
        let response = try await AdminPurgeTests.admin(first, "POST", "/purge", json: body)
        #expect(response.status == 200, "\(response.body)")
        #expect(try await first.get("/p/one").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        // The second node reads the ban from Redis (this happens every second; here on demand).
        // (The periodic read may have applied it already: either way it is in force after this.)
        await second.app.syncBans()
        #expect(second.app.engine.bans.count.list + second.app.engine.bans.count.urls >= 1)
        #expect(try await second.get("/p/one").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(origin.requestCount == 3)
    }

    @Test("a node that was away when the purge was made catches up from the ban set when it comes back")
    func catchUpAfterAbsence() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let first = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        defer {
            Task {
                await first.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        _ = try await first.get("/p/two")
        await first.app.cache.flushWrites()
        // A second node that cached it, then went away (its L2 stays on disk).
        let away = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        #expect(try await away.get("/p/two").cacheStatus.hasSuffix("detail=l3"))
        await away.app.cache.flushWrites()
        let directory = away.directory
        await away.shutdown(keepDirectory: true)

        _ = try await AdminPurgeTests.purge(first, #"{"pattern": "/p/*"}"#)
        // Back, with its old L2: the bans it missed are read at start, so the L2 copy is dropped.
        let back = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis), directory: directory)
        defer { Task { await back.shutdown() } }
        await back.app.syncBans()
        #expect(try await back.get("/p/two").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
    }

    @Test("a POST through one node invalidates the URL on the others")
    func unsafeMethodInvalidatesEverywhere() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let first = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        let second = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis))
        defer {
            Task {
                await first.shutdown(); await second.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        _ = try await second.get("/p/three")
        #expect(try await second.get("/p/three").cacheStatus.hasPrefix("paca; hit"))
        #expect(try await first.request("POST", "/p/three", body: "changed").status == 200)
        await first.app.waitUntilBansShared()
        // The periodic read may have applied it already; either way it is in force now.
        await second.app.syncBans()
        #expect(try await second.get("/p/three").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
    }
}
