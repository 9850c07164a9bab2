import Foundation
import NIOCore
import PacaTestSupport
import Synchronization
import Testing

/// RFC 9111 behaviour through the real proxy, libcurl and an in-process origin; time moves by
/// the injected clock.
@Suite("HTTP caching semantics end to end", .timeLimit(.minutes(1)))
struct HTTPCachingEndToEndTests {
    @Test("a stale entry with an ETag is revalidated: the origin sees If-None-Match, answers 304, the client gets the full 200")
    func revalidation() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"v1\"" {
                return TestOrigin.Reply(status: 304, headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=10"), ("X-Fresh", "yes")])
            }
            return TestOrigin.Reply(headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=10")], body: "full body")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/r")
        proxy.clock.advance(by: .seconds(11))
        let revalidated = try await proxy.get("/r")
        #expect(revalidated.status == 200)
        #expect(revalidated.body == "full body")
        #expect(revalidated.cacheStatus == "paca; fwd=stale; fwd-status=304; stored; ttl=10")
        #expect(revalidated.header("x-fresh") == "yes")
        #expect(origin.requests.count == 2)
        #expect(origin.requests[1].header("if-none-match") == "\"v1\"")
        let after = try await proxy.get("/r")
        #expect(after.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 2)
    }

    @Test("a 304's Set-Cookie reaches the client whose request was revalidated, and is never stored for later hits")
    func notModifiedSetCookieReachesTheClient() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"c1\"" {
                return TestOrigin.Reply(status: 304, headers: [("ETag", "\"c1\""), ("Cache-Control", "max-age=10"), ("Set-Cookie", "s=2")])
            }
            return TestOrigin.Reply(headers: [("ETag", "\"c1\""), ("Cache-Control", "max-age=10")], body: "shared body")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/c")
        proxy.clock.advance(by: .seconds(11))
        let revalidated = try await proxy.get("/c")
        #expect(revalidated.cacheStatus == "paca; fwd=stale; fwd-status=304; stored; ttl=10")
        #expect(revalidated.body == "shared body")
        #expect(revalidated.header("set-cookie") == "s=2")
        let hit = try await proxy.get("/c")
        #expect(hit.cacheStatus.contains("hit"))
        #expect(hit.header("set-cookie") == nil)
        #expect(origin.requestCount == 2)
    }

    @Test("a 304 that adds Vary re-keys the refreshed entry: a request with another value of the new field is not served it")
    func notModifiedAddingVaryRekeys() async throws {
        let origin = try await TestOrigin { seen in
            guard let foo = seen.header("foo") else {
                return TestOrigin.Reply(headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=10")], body: "plain")
            }
            if seen.header("if-none-match") == "\"v1\"", foo == "1" {
                return TestOrigin.Reply(status: 304, headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=10"), ("Vary", "Foo")])
            }
            return TestOrigin.Reply(
                headers: [("ETag", "\"v-\(foo)\""), ("Cache-Control", "max-age=10"), ("Vary", "Foo")], body: "foo=\(foo)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/v")
        proxy.clock.advance(by: .seconds(11))
        let revalidated = try await proxy.get("/v", headers: [("Foo", "1")])
        #expect(revalidated.cacheStatus == "paca; fwd=stale; fwd-status=304; stored; ttl=10")
        #expect(revalidated.body == "plain")
        let other = try await proxy.get("/v", headers: [("Foo", "2")])
        #expect(other.body == "foo=2")
        #expect(origin.requestCount == 3)
        let same = try await proxy.get("/v", headers: [("Foo", "1")])
        #expect(same.cacheStatus.contains("hit"))
        #expect(same.body == "plain")
        #expect(origin.requestCount == 3)
    }

    @Test("Last-Modified alone revalidates with If-Modified-Since")
    func lastModifiedRevalidation() async throws {
        let stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
        let origin = try await TestOrigin { seen in
            if seen.header("if-modified-since") == stamp { return TestOrigin.Reply(status: 304, headers: [("Cache-Control", "max-age=5")]) }
            return TestOrigin.Reply(headers: [("Last-Modified", stamp), ("Cache-Control", "max-age=5")], body: "dated")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/d")
        proxy.clock.advance(by: .seconds(6))
        let response = try await proxy.get("/d")
        #expect(response.body == "dated")
        #expect(response.cacheStatus.contains("fwd-status=304"))
    }

    @Test("stale-while-revalidate: the stale answer comes at once and the origin sees exactly one refresh")
    func staleWhileRevalidate() async throws {
        let counter = Mutex(0)
        let origin = try await TestOrigin { _ in
            let n = counter.withLock { value -> Int in
                value += 1
                return value
            }
            return TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=10, stale-while-revalidate=60")], body: "version \(n)",
                delay: n > 1 ? .seconds(1) : .zero)
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/swr")
        proxy.clock.advance(by: .seconds(15))
        // The refresh takes the origin a second; every stale answer comes before it.
        let stale = try await withThrowingTaskGroup(of: TestResponse.self) { group in
            for _ in 0..<5 { group.addTask { try await proxy.get("/swr") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stale.allSatisfy { $0.body == "version 1" && $0.cacheStatus == "paca; hit; ttl=-5; detail=l1" })
        await origin.waitForRequests(2)
        // Await the refresh landing in the cache (bounded), then it is a fresh hit.
        let deadline = ContinuousClock.now + .seconds(10)
        while proxy.app.engine.statistics.snapshot().stored < 2, ContinuousClock.now < deadline { await Task.yield() }
        let fresh = try await proxy.get("/swr")
        #expect(fresh.body == "version 2")
        #expect(fresh.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 2)
    }

    @Test("stale-if-error: an origin that fails gets the stale entry served, marked stale-if-error")
    func staleIfError() async throws {
        let failing = Mutex(false)
        let origin = try await TestOrigin { _ in
            if failing.withLock({ $0 }) { return TestOrigin.Reply(status: 503, body: "down") }
            return TestOrigin.Reply(headers: [("ETag", "\"a\""), ("Cache-Control", "max-age=10, stale-if-error=300")], body: "good")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/e")
        failing.withLock { $0 = true }
        proxy.clock.advance(by: .seconds(20))
        let response = try await proxy.get("/e")
        #expect(response.status == 200)
        #expect(response.body == "good")
        #expect(response.cacheStatus == "paca; fwd=stale; ttl=-10; detail=stale-if-error")
    }

    @Test("stale-if-error also covers an origin that is gone")
    func staleIfErrorOriginDown() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=10"), ("ETag", "\"b\"")], body: "kept")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "stale_if_error": "5m""#))
        defer { Task { await proxy.shutdown() } }

        _ = try await proxy.get("/gone")
        await origin.shutdown()
        proxy.clock.advance(by: .seconds(30))
        let response = try await proxy.get("/gone")
        #expect(response.body == "kept")
        #expect(response.cacheStatus.contains("detail=stale-if-error"))
    }

    @Test("must-revalidate forbids serving stale when the origin fails")
    func mustRevalidate() async throws {
        let failing = Mutex(false)
        let origin = try await TestOrigin { _ in
            if failing.withLock({ $0 }) { return TestOrigin.Reply(status: 500) }
            return TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=10, must-revalidate, stale-if-error=300"), ("ETag", "\"m\"")], body: "strict")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/m")
        failing.withLock { $0 = true }
        proxy.clock.advance(by: .seconds(11))
        let response = try await proxy.get("/m")
        #expect(response.status == 500)
    }

    @Test("Vary: two languages make two variants, both hits afterwards")
    func vary() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")],
                body: "lang=\(seen.header("accept-language") ?? "none")")
        }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "key": { "headers": ["Accept-Language"] }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let en = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        let fr = try await proxy.get("/v", headers: [("Accept-Language", "fr")])
        #expect(en.body == "lang=en")
        #expect(fr.body == "lang=fr")
        #expect(fr.cacheStatus.hasPrefix("paca; fwd=vary-miss"))
        let enHit = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        let frHit = try await proxy.get("/v", headers: [("Accept-Language", "fr")])
        #expect(enHit.body == "lang=en")
        #expect(frHit.body == "lang=fr")
        #expect(enHit.cacheStatus.contains("hit"))
        #expect(frHit.cacheStatus.contains("hit"))
        #expect(enHit.headers("vary") == ["Accept-Language"])
        #expect(origin.requestCount == 2)
    }

    @Test("limits.max_variants: 2 keeps two variants per URL: a third pushes out the oldest")
    func maxVariantsEvictsOldest() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")],
                body: "lang=\(seen.header("accept-language") ?? "none")")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "limits": { "max_variants": 2 }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for language in ["en", "fr", "de"] {
            let miss = try await proxy.get("/v", headers: [("Accept-Language", language)])
            #expect(miss.body == "lang=\(language)")
            #expect(miss.cacheStatus.contains("stored"), "\(language): \(miss.cacheStatus)")
        }
        #expect(origin.requestCount == 3)
        // The two newest stay...
        for language in ["fr", "de"] {
            let hit = try await proxy.get("/v", headers: [("Accept-Language", language)])
            #expect(hit.body == "lang=\(language)")
            #expect(hit.cacheStatus.hasPrefix("paca; hit"), "\(language): \(hit.cacheStatus)")
        }
        #expect(origin.requestCount == 3)
        // ...and the oldest, en, went when de came: it is fetched again.
        let refetched = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        #expect(refetched.body == "lang=en")
        #expect(refetched.cacheStatus.hasPrefix("paca; fwd=vary-miss"), "\(refetched.cacheStatus)")
        #expect(origin.requestCount == 4)
    }

    @Test("key.headers select variants even when the origin sends no Vary, and are added to Vary on misses and hits")
    func keyHeadersAddVary() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "tenant=\(seen.header("x-tenant") ?? "-")")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "key": { "headers": ["X-Tenant"] }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/t", headers: [("X-Tenant", "a")])
        #expect(miss.headers("vary") == ["x-tenant"])
        let hit = try await proxy.get("/t", headers: [("X-Tenant", "a")])
        #expect(hit.cacheStatus.contains("hit"))
        #expect(hit.headers("vary") == ["x-tenant"])
        #expect(try await proxy.get("/t", headers: [("X-Tenant", "b")]).body == "tenant=b")
        #expect(origin.requests.map { $0.header("x-tenant") } == ["a", "b"])
    }

    @Test("a POST invalidates the URL it went to and its Location, every variant included")
    func unsafeInvalidation() async throws {
        let origin = try await TestOrigin { seen in
            if seen.method == "POST" { return TestOrigin.Reply(status: 201, headers: [("Location", "/items/9")], body: "created") }
            return TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept")], body: "\(seen.uri)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/items", headers: [("Accept", "a")])
        _ = try await proxy.get("/items", headers: [("Accept", "b")])
        _ = try await proxy.get("/items/9")
        #expect(try await proxy.get("/items", headers: [("Accept", "a")]).cacheStatus.contains("hit"))
        let post = try await proxy.request("POST", "/items", body: "{}")
        #expect(post.status == 201)
        #expect(try await proxy.get("/items", headers: [("Accept", "a")]).cacheStatus.contains("fwd=uri-miss"))
        #expect(try await proxy.get("/items", headers: [("Accept", "b")]).cacheStatus.contains("miss"))
        #expect(try await proxy.get("/items/9").cacheStatus.contains("fwd=uri-miss"))
    }

    @Test("a client's own validators get 304 from the cache")
    func clientConditional() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("ETag", "W/\"x\"")], body: "etagged")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/c")
        let conditional = try await proxy.get("/c", headers: [("If-None-Match", "\"x\"")])
        #expect(conditional.status == 304)
        #expect(conditional.body.isEmpty)
        #expect(conditional.header("etag") == "W/\"x\"")
        let other = try await proxy.get("/c", headers: [("If-None-Match", "\"y\"")])
        #expect(other.status == 200)
        #expect(origin.requestCount == 1)
        // On a miss the validators are checked against the fresh answer.
        let fresh = try await proxy.get("/c2", headers: [("If-None-Match", "W/\"x\"")])
        #expect(fresh.status == 304)
        #expect(fresh.cacheStatus.contains("stored"))
        #expect(origin.requests.last?.header("if-none-match") == nil)
    }

    @Test("Range requests are served from the stored full body: 206 with Content-Range, 416 when unsatisfiable")
    func ranges() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "0123456789") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/range")
        let part = try await proxy.get("/range", headers: [("Range", "bytes=2-5")])
        #expect(part.status == 206)
        #expect(part.body == "2345")
        #expect(part.header("content-range") == "bytes 2-5/10")
        let suffix = try await proxy.get("/range", headers: [("Range", "bytes=-3")])
        #expect(suffix.body == "789")
        let bad = try await proxy.get("/range", headers: [("Range", "bytes=50-")])
        #expect(bad.status == 416)
        #expect(bad.header("content-range") == "bytes */10")
        #expect(origin.requestCount == 1)
    }

    @Test("only-if-cached without a stored answer is 504; with one it is a hit")
    func onlyIfCached() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "x") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/o", headers: [("Cache-Control", "only-if-cached")]).status == 504)
        _ = try await proxy.get("/o")
        #expect(try await proxy.get("/o", headers: [("Cache-Control", "only-if-cached")]).status == 200)
        #expect(origin.requestCount == 1)
    }

    @Test("a client's no-cache goes to the origin (fwd=request); max-stale accepts a stale entry")
    func requestDirectives() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=10"), ("ETag", "\"r\"")], body: "r")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/n")
        let forced = try await proxy.get("/n", headers: [("Cache-Control", "no-cache")])
        #expect(forced.cacheStatus.hasPrefix("paca; fwd=request"))
        #expect(origin.requestCount == 2)
        proxy.clock.advance(by: .seconds(15))
        let accepted = try await proxy.get("/n", headers: [("Cache-Control", "max-stale=60")])
        #expect(accepted.cacheStatus == "paca; hit; ttl=-5; detail=l1")
        #expect(origin.requestCount == 2)
    }

    @Test("Set-Cookie responses are not stored; the key becomes hit-for-miss so later requests skip the wait")
    func setCookieAndHitForMiss() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("Set-Cookie", "s=1")], body: "personal")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let first = try await proxy.get("/sc")
        #expect(first.cacheStatus.contains("detail=set-cookie"))
        #expect(first.header("set-cookie") == "s=1")
        let second = try await proxy.get("/sc")
        #expect(second.cacheStatus == "paca; fwd=bypass; fwd-status=200; detail=hit-for-miss")
        #expect(origin.requestCount == 2)
    }

    @Test("the origin's Age counts against freshness (RFC 9111 §4.2.3)")
    func originAge() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=300"), ("Age", "100")], body: "aged")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let miss = try await proxy.get("/age")
        #expect(miss.cacheStatus.contains("ttl=200"))
        #expect(miss.header("age") == "100")
        let hit = try await proxy.get("/age")
        #expect(hit.header("age") == "100")
        #expect(hit.headers("age").count == 1)
    }

    @Test("concurrent requests for different variants each get their own language")
    func collapsedVariants() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")], body: seen.header("accept-language") ?? "",
                delay: .milliseconds(100))
        }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "key": { "headers": ["Accept-Language"] }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let results = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for language in ["en", "fr", "de", "en", "fr", "de"] {
                group.addTask { (language, try await proxy.get("/lang", headers: [("Accept-Language", language)]).body) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.0 == $0.1 })
    }
}
