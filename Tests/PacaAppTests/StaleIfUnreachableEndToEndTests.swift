import Foundation
import PacaTestSupport
import Synchronization
import Testing

/// A route's `stale_if_unreachable` through the real proxy: the origin is stopped, so its port
/// is closed and libcurl's connect is refused (RFC 9111 §4.2.4, "disconnected").
@Suite("Stale if unreachable end to end", .timeLimit(.minutes(1)))
struct StaleIfUnreachableEndToEndTests {
    @Test("within the bound the stale entry is served; beyond it the client gets 502")
    func withinAndBeyondBound() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=10")], body: "kept") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_unreachable": "1h""#))
        defer { Task { await proxy.shutdown() } }

        let miss = try await proxy.get("/u")
        #expect(miss.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=10")
        await origin.shutdown()

        proxy.clock.advance(by: .seconds(70))
        let stale = try await proxy.get("/u")
        #expect(stale.status == 200)
        #expect(stale.body == "kept")
        #expect(stale.cacheStatus == "paca; fwd=stale; ttl=-60; detail=stale-if-unreachable")
        #expect(stale.header("warning") == nil)

        // Stale by more than an hour: the entry is gone from storage, and the origin is down.
        proxy.clock.advance(by: .seconds(3600))
        let beyond = try await proxy.get("/u")
        #expect([502, 504].contains(beyond.status), "\(beyond.status)")  // refused, or timed out on a loaded machine
    }

    @Test("beyond the bound an entry still kept for its validator is not served: 502")
    func beyondBoundWithValidator() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=10"), ("ETag", "\"k\"")], body: "validated")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_unreachable": "1m""#))
        defer { Task { await proxy.shutdown() } }

        _ = try await proxy.get("/v")
        await origin.shutdown()
        proxy.clock.advance(by: .seconds(60))
        let within = try await proxy.get("/v")
        #expect(within.cacheStatus == "paca; fwd=stale; ttl=-50; detail=stale-if-unreachable")
        proxy.clock.advance(by: .seconds(30))
        let beyond = try await proxy.get("/v")
        #expect([502, 504].contains(beyond.status), "\(beyond.status)")  // refused, or timed out on a loaded machine
        #expect(beyond.cacheStatus.isEmpty)
    }

    @Test("RFC 9111 §4.2.4: must-revalidate is never overridden by the route's bound")
    func mustRevalidateWins() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=10, must-revalidate"), ("ETag", "\"m\"")], body: "strict")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_unreachable": "1h""#))
        defer { Task { await proxy.shutdown() } }

        _ = try await proxy.get("/m")
        await origin.shutdown()
        proxy.clock.advance(by: .seconds(20))
        let response = try await proxy.get("/m")
        // 502 (refused) or 504 (a pooled connection to the stopped origin timed out): an error, never the stale entry.
        #expect([502, 504].contains(response.status), "\(response.status)")
    }

    @Test("RFC 9111 §5.2.1.4: a request's no-cache is not answered stale")
    func requestNoCache() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=10")], body: "kept") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_unreachable": "1h""#))
        defer { Task { await proxy.shutdown() } }

        _ = try await proxy.get("/c")
        await origin.shutdown()
        proxy.clock.advance(by: .seconds(20))
        let response = try await proxy.get("/c", headers: [("Cache-Control", "no-cache")])
        // 502 (refused) or 504 (a pooled connection to the stopped origin timed out): an error, never the stale entry.
        #expect([502, 504].contains(response.status), "\(response.status)")
        let plain = try await proxy.get("/c")
        #expect(plain.cacheStatus.contains("detail=stale-if-unreachable"))
    }

    @Test("a 5xx answer is stale-if-error's domain: the unreachable bound does not serve it")
    func serverErrorIsNotUnreachable() async throws {
        let failing = Mutex(false)
        let origin = try await TestOrigin { _ in
            if failing.withLock({ $0 }) { return TestOrigin.Reply(status: 503, body: "down") }
            return TestOrigin.Reply(headers: [("Cache-Control", "max-age=10")], body: "good")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_unreachable": "1h""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/s")
        failing.withLock { $0 = true }
        proxy.clock.advance(by: .seconds(20))
        let response = try await proxy.get("/s")
        #expect(response.status == 503)
        #expect(response.body == "down")
    }

    @Test("without the route option an unreachable origin gives 502 (unless stale-if-error allows)")
    func offByDefault() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=10")], body: "kept") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer { Task { await proxy.shutdown() } }

        _ = try await proxy.get("/d")
        await origin.shutdown()
        proxy.clock.advance(by: .seconds(5))
        #expect(try await proxy.get("/d").cacheStatus == "paca; hit; ttl=5; detail=l1")
        proxy.clock.advance(by: .seconds(10))
        let status = try await proxy.get("/d").status
        #expect([502, 504].contains(status), "\(status)")  // refused, or timed out on a loaded machine
    }
}
