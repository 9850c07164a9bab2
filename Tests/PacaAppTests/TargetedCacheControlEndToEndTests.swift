import Foundation
import PacaTestSupport
import Synchronization
import Testing

/// Targeted cache control (RFC 9213) through the real proxy: `Paca-Cache-Control` and
/// `CDN-Cache-Control` decide what paca stores; the client gets `Cache-Control` and
/// `CDN-Cache-Control` as sent and never `Paca-Cache-Control`.
@Suite("Targeted cache control end to end", .timeLimit(.minutes(1)))
struct TargetedCacheControlEndToEndTests {
    @Test("RFC 9213 §2.2: Paca-Cache-Control wins over CDN-Cache-Control and Cache-Control; only it stays inside paca")
    func pacaTargetWins() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(
                headers: [
                    ("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60"), ("Paca-Cache-Control", "max-age=120"),
                ], body: "targeted")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/t")
        #expect(miss.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=120")
        #expect(miss.header("cache-control") == "no-store")
        #expect(miss.header("cdn-cache-control") == "max-age=60")
        #expect(miss.header("paca-cache-control") == nil)
        proxy.clock.advance(by: .seconds(100))
        let hit = try await proxy.get("/t")
        #expect(hit.body == "targeted")
        #expect(hit.cacheStatus == "paca; hit; ttl=20; detail=l1")
        #expect(hit.header("cache-control") == "no-store")
        #expect(hit.header("cdn-cache-control") == "max-age=60")
        #expect(hit.header("paca-cache-control") == nil)
        #expect(origin.requestCount == 1)
    }

    @Test("RFC 9213 §2.2: CDN-Cache-Control no-store keeps paca from storing what Cache-Control allows")
    func cdnNoStore() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "no-store")], body: "fresh each time")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let first = try await proxy.get("/n")
        #expect(first.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; detail=no-store")
        #expect(first.header("cdn-cache-control") == "no-store")
        _ = try await proxy.get("/n")
        #expect(origin.requestCount == 2)
    }

    @Test("RFC 9213 §2.1: an invalid CDN-Cache-Control is ignored and Cache-Control applies; it still reaches the client")
    func invalidTargetFallsBack() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=30"), ("CDN-Cache-Control", "max-age=60,,")], body: "fallback")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/i")
        #expect(miss.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=30")
        #expect(miss.header("cdn-cache-control") == "max-age=60,,")
    }

    @Test("an empty cache_control_targets list turns targeted fields off; Paca-Cache-Control is still withheld from clients")
    func targetsOff() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=30"), ("CDN-Cache-Control", "max-age=60"), ("Paca-Cache-Control", "no-store")],
                body: "plain")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "cache_control_targets": []"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/o")
        #expect(miss.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=30")
        #expect(miss.header("paca-cache-control") == nil)
        let hit = try await proxy.get("/o")
        #expect(hit.cacheStatus == "paca; hit; ttl=30; detail=l1")
        #expect(hit.header("paca-cache-control") == nil)
    }

    @Test("RFC 9111 §4.3.4: a 304 without the targeted field leaves the stored Paca-Cache-Control in force")
    func revalidationKeepsTarget() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"v1\"" { return TestOrigin.Reply(status: 304, headers: [("ETag", "\"v1\"")]) }
            return TestOrigin.Reply(
                headers: [("ETag", "\"v1\""), ("Cache-Control", "no-cache"), ("Paca-Cache-Control", "max-age=10")], body: "body")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/r")
        #expect(miss.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=10")
        proxy.clock.advance(by: .seconds(11))
        let revalidated = try await proxy.get("/r")
        #expect(revalidated.cacheStatus == "paca; fwd=stale; fwd-status=304; stored; ttl=10")
        #expect(revalidated.body == "body")
        #expect(revalidated.header("paca-cache-control") == nil)
        #expect(revalidated.header("cache-control") == "no-cache")
        let hit = try await proxy.get("/r")
        #expect(hit.cacheStatus == "paca; hit; ttl=10; detail=l1")
        #expect(origin.requestCount == 2)
    }

    @Test("a pass-through route withholds Paca-Cache-Control too")
    func passThroughWithholds() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Paca-Cache-Control", "max-age=60"), ("CDN-Cache-Control", "max-age=5")], body: "pass")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "cache": false"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.get("/p")
        #expect(response.body == "pass")
        #expect(response.header("paca-cache-control") == nil)
        #expect(response.header("cdn-cache-control") == "max-age=5")
    }
}
