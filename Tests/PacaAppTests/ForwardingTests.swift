import Foundation
import NIOCore
import PacaTestSupport
import Testing

/// DESIGN.md §3 "What reaches the origin": paca is a drop-in proxy, so the origin sees what the
/// client sent, minus hop-by-hop fields and (from untrusted peers) the poisoning vectors.
@Suite("What reaches the origin")
struct ForwardingTests {
    /// An origin whose answer is cacheable and carries a validator.
    static let cacheable: @Sendable (TestOrigin.Seen) -> TestOrigin.Reply = { _ in
        TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("ETag", "\"v1\"")], body: "body")
    }

    static let clientFields: [(String, String)] = [
        ("X-Api-Key", "secret-key"), ("Accept", "application/json"), ("User-Agent", "test-agent/1.0"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("X-Forwarded-Host", "evil.example"), ("X-Original-URL", "/admin"), ("Forwarded", "host=evil.example"),
        ("X-HTTP-Method-Override", "DELETE"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "drop me"),
    ]

    @Test("by default every end-to-end field arrives; poisoning vectors and hop-by-hop fields do not")
    func endToEndFieldsArrive() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.get("/item", headers: Self.clientFields)
        #expect(response.status == 200)
        let seen = try #require(origin.requests.first)
        #expect(seen.header("x-api-key") == "secret-key")
        #expect(seen.header("accept") == "application/json")
        #expect(seen.header("user-agent") == "test-agent/1.0")
        #expect(seen.header("traceparent") == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(seen.header("x-forwarded-host") == nil)
        #expect(seen.header("x-original-url") == nil)
        #expect(seen.header("forwarded") == nil)
        #expect(seen.header("x-http-method-override") == nil)
        #expect(seen.header("x-hop") == nil)
        #expect(seen.header("x-forwarded-for") == "127.0.0.1")
        #expect(seen.header("via") == "1.1 paca")
        #expect(seen.header("host") == "127.0.0.1:\(origin.port)")
    }

    @Test("from a peer in trusted_proxies the forwarding fields pass and X-Forwarded-For is extended")
    func trustedPeerFieldsPass() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "trusted_proxies": ["127.0.0.1"]"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/item", headers: Self.clientFields + [("X-Forwarded-For", "203.0.113.9")])
        let seen = try #require(origin.requests.first)
        #expect(seen.header("x-forwarded-host") == "evil.example")
        #expect(seen.header("x-original-url") == "/admin")
        #expect(seen.header("forwarded") == "host=evil.example")
        #expect(seen.header("x-forwarded-for") == "203.0.113.9, 127.0.0.1")
        #expect(seen.header("x-api-key") == "secret-key")
    }

    @Test("an unsafe method forwards the same way: end-to-end fields arrive, poisoning vectors do not")
    func passForwardsEndToEndFields() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(status: 201, body: "made") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.request("POST", "/things", headers: Self.clientFields, body: "payload")
        #expect(response.status == 201)
        let seen = try #require(origin.requests.first)
        #expect(seen.body == "payload")
        #expect(seen.header("x-api-key") == "secret-key")
        #expect(seen.header("x-original-url") == nil)
        #expect(seen.header("x-http-method-override") == nil)
    }

    @Test("forward: keyed sends only the keyed fields, forward_headers and Authorization")
    func keyedModeIsStrict() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(
            origin: origin,
            config: catchAll(routeExtra: #", "forward": "keyed", "key": { "headers": ["Accept"] }, "forward_headers": ["X-Tenant"]"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/item", headers: Self.clientFields + [("X-Tenant", "t1"), ("Authorization", "Bearer a")])
        let seen = try #require(origin.requests.first)
        let names = Set(seen.headers.map { $0.0.lowercased() })
        #expect(seen.header("accept") == "application/json")
        #expect(seen.header("x-tenant") == "t1")
        #expect(seen.header("authorization") == "Bearer a")
        #expect(seen.header("x-api-key") == nil)
        #expect(seen.header("user-agent") == nil)
        #expect(seen.header("traceparent") == nil)
        #expect(names.isSubset(of: ["host", "accept", "x-tenant", "authorization", "x-forwarded-for", "via"]))
    }

    @Test("forward is checked in routes.json")
    func forwardModeIsValidated() async throws {
        await #expect(throws: (any Error).self) {
            _ = try await ProxyHarness.start(origin: nil, config: catchAll(routeExtra: #", "forward": "some""#))
        }
    }

    @Test("preserve_host sends the client's Host to the origin")
    func preserveHostReachesOrigin() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "preserve_host": true"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/item")
        let seen = try #require(origin.requests.first)
        #expect(seen.header("host") == "127.0.0.1:\(proxy.port)")
    }

    @Test("a client's If-None-Match and Range on a fill stay behind; the client still gets its 304 and 206")
    func conditionalsStayBehindOnFill() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let first = try await proxy.get("/item", headers: [("If-None-Match", "\"v1\"")])
        #expect(first.status == 304)
        #expect(first.cacheStatus.contains("stored"))
        let seen = try #require(origin.requests.first)
        #expect(seen.header("if-none-match") == nil)

        let ranged = try await proxy.get("/other", headers: [("Range", "bytes=0-1")])
        #expect(ranged.status == 206)
        #expect(ranged.body == "bo")
        #expect(origin.requests.last?.header("range") == nil)
        #expect(try await proxy.get("/other").body == "body")
        #expect(origin.requestCount == 2)
    }

    @Test("on a miss whose answer cannot be stored (hit-for-miss), the client's conditionals pass")
    func conditionalsPassWhenUncacheable() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"v1\"" { return TestOrigin.Reply(status: 304, headers: [("ETag", "\"v1\"")]) }
            return TestOrigin.Reply(headers: [("Cache-Control", "no-store"), ("ETag", "\"v1\"")], body: "private")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/item").status == 200)
        let second = try await proxy.get("/item", headers: [("If-None-Match", "\"v1\"")])
        #expect(second.status == 304)
        #expect(origin.requests.last?.header("if-none-match") == "\"v1\"")
    }
}

/// DESIGN.md §3 "Authorization": an answer to an authorized request is shared only as RFC 9111
/// §3.5 allows, and only the origin says for how long.
@Suite("Authorization never leaks")
struct AuthorizationTests {
    /// The origin answers with `cacheControl` and an `ETag`; a 304 to a matching validator only
    /// when the request carries Alice's credentials, else 401.
    static func origin(cacheControl: String) -> @Sendable (TestOrigin.Seen) -> TestOrigin.Reply {
        { seen in
            guard seen.header("authorization") == "Bearer alice" else {
                return TestOrigin.Reply(status: 401, headers: [("Cache-Control", "no-store")], body: "who are you")
            }
            if seen.header("if-none-match") == "\"alice\"" { return TestOrigin.Reply(status: 304, headers: [("ETag", "\"alice\"")]) }
            return TestOrigin.Reply(headers: [("Cache-Control", cacheControl), ("ETag", "\"alice\"")], body: "alice's data")
        }
    }

    static let cases: [(String, String)] = [
        ("must-revalidate", "cache-control-first"), ("must-revalidate", "route-first"), ("must-revalidate", "route-only"),
        ("max-age=0, must-revalidate", "cache-control-first"), ("max-age=0, must-revalidate", "route-first"),
        ("max-age=0, must-revalidate", "route-only"), ("public", "cache-control-first"), ("public", "route-first"),
        ("public", "route-only"), ("s-maxage=0", "route-first"),
    ]

    @Test("a route ttl never makes an authorized answer fresh: the next request without credentials goes to the origin", arguments: cases)
    func noLeakWithoutExplicitLifetime(cacheControl: String, ttlSource: String) async throws {
        let origin = try await TestOrigin(Self.origin(cacheControl: cacheControl))
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "ttl": "60s", "ttl_source": "\#(ttlSource)""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let alice = try await proxy.get("/me", headers: [("Authorization", "Bearer alice")])
        #expect(alice.body == "alice's data")
        let anonymous = try await proxy.get("/me")
        #expect(anonymous.status == 401)
        #expect(anonymous.body != "alice's data")
        #expect(!anonymous.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 2)
    }

    @Test("must-revalidate without a lifetime: every use by the authorized user is revalidated")
    func revalidatedOnEveryUse() async throws {
        let origin = try await TestOrigin(Self.origin(cacheControl: "must-revalidate"))
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "ttl": "60s""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for round in 1...3 {
            let response = try await proxy.get("/me", headers: [("Authorization", "Bearer alice")])
            #expect(response.body == "alice's data")
            #expect(origin.requestCount == round)
            if round > 1 { #expect(response.cacheStatus.hasPrefix("paca; fwd=stale; fwd-status=304")) }
        }
    }

    @Test("with public and an explicit lifetime the origin allowed sharing: later requests are hits")
    func sharedWhenOriginAllows() async throws {
        let origin = try await TestOrigin(Self.origin(cacheControl: "public, max-age=60"))
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "ttl": "5s", "ttl_source": "route-first""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/me", headers: [("Authorization", "Bearer alice")])
        let anonymous = try await proxy.get("/me")
        #expect(anonymous.body == "alice's data")
        #expect(anonymous.cacheStatus == "paca; hit; ttl=60; detail=l1")
    }
}
