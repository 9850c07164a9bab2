import Foundation
import NIOCore
import PacaTestSupport
import Testing

/// The admin API end to end: a real proxy with its admin listener, a real L2 directory.
@Suite("Admin API: purge, health, reload", .timeLimit(.minutes(1)))
struct AdminPurgeTests {
    static func config(disk: Bool = true, extra: String = "", routeExtra: String = "") -> String {
        let l2 = disk ? #", "storage": { "l2": { "path": "cache", "max_bytes": "64MB" } }"# : ""
        return catchAll(#", "admin": { "listen": "127.0.0.1:0" }\#(l2)\#(extra)"#, routeExtra: routeExtra)
    }

    static func admin(_ proxy: ProxyHarness, _ method: String, _ path: String, json: String? = nil) async throws -> TestResponse {
        let port = try #require(proxy.app.adminPort)
        return try await fetch(
            port: port, group: proxy.group, method: method, path: path,
            headers: json == nil ? [] : [("Content-Type", "application/json")], body: json)
    }

    static func purge(_ proxy: ProxyHarness, _ json: String) async throws -> [String: Any] {
        let response = try await admin(proxy, "POST", "/purge", json: json)
        #expect(response.status == 200, "\(response.body)")
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
    }

    static func tiers(_ report: [String: Any]) -> [String: Int] {
        (report["tiers"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
    }

    static let cacheable: @Sendable (TestOrigin.Seen) -> TestOrigin.Reply = { seen in
        TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("ETag", "\"e\"")], body: "body of \(seen.uri)")
    }

    @Test("a pattern purge removes the matching entries from L1 and L2 at once and counts them per tier")
    func patternPurge() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for path in ["/api/users/1", "/api/users/2?page=1", "/api/other"] { _ = try await proxy.get(path) }
        await proxy.app.cache.flushWrites()
        let report = try await Self.purge(proxy, #"{"pattern": "/api/users/*"}"#)
        #expect(Self.tiers(report) == ["l1": 2, "l2": 2])
        #expect(try await proxy.get("/api/users/1").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await proxy.get("/api/users/2?page=1").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await proxy.get("/api/other").cacheStatus.hasPrefix("paca; hit"))
        #expect(origin.requestCount == 5)
    }

    @Test("a percent-encoded URL is purged by its decoded or differently encoded pattern")
    func percentEncodedPurge() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(disk: false))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/caf%c3%a9/menu")
        _ = try await proxy.get("/%7Euser/page")
        #expect(Self.tiers(try await Self.purge(proxy, #"{"pattern": "/caf%C3%A9/*"}"#))["l1"] == 1)
        #expect(Self.tiers(try await Self.purge(proxy, #"{"pattern": "/~user/*"}"#))["l1"] == 1)
        #expect(try await proxy.get("/caf%C3%A9/menu").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
    }

    @Test("a regex purge is anchored; a hostile regex is answered at once; a malformed one is a 400")
    func regexPurge() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(disk: false))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for path in ["/items/12", "/items/12/reviews", "/items/ab"] { _ = try await proxy.get(path) }
        #expect(Self.tiers(try await Self.purge(proxy, #"{"regex": "/items/[0-9]+"}"#))["l1"] == 1)
        // Catastrophic for a backtracking engine on a long key; linear here.
        _ = try await proxy.get("/" + String(repeating: "a", count: 4000))
        #expect(Self.tiers(try await Self.purge(proxy, #"{"regex": "/(a+)+$b"}"#))["l1"] == 0)
        let bad = try await Self.admin(proxy, "POST", "/purge", json: #"{"regex": "/(a"}"#)
        #expect(bad.status == 400)
        let backReference = try await Self.admin(proxy, "POST", "/purge", json: #"{"regex": "(a)\\1"}"#)
        #expect(backReference.status == 400)
    }

    @Test("a url purge removes every variant of that URL and nothing else")
    func urlPurgeTakesEveryVariant() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=600"), ("Vary", "Accept-Language")],
                body: "\(seen.uri) in \(seen.header("accept-language") ?? "-")")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(disk: false))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        _ = try await proxy.get("/v", headers: [("Accept-Language", "fr")])
        _ = try await proxy.get("/w", headers: [("Accept-Language", "en")])
        #expect(Self.tiers(try await Self.purge(proxy, #"{"url": "/v"}"#))["l1"] == 2)
        #expect(try await proxy.get("/v", headers: [("Accept-Language", "fr")]).cacheStatus.contains("fwd="))
        #expect(try await proxy.get("/w", headers: [("Accept-Language", "en")]).cacheStatus.hasPrefix("paca; hit"))
    }

    @Test("a tag purge takes exactly the entries stored with that Surrogate-Key or Cache-Tag, in L1 and from L2 when read")
    func tagPurge() async throws {
        let origin = try await TestOrigin { seen in
            let id = seen.uri.split(separator: "/").last.map(String.init) ?? ""
            return TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=600"), ("Surrogate-Key", "user-\(id) users"), ("Cache-Tag", "t\(id), all")],
                body: "user \(id)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for id in 1...3 { _ = try await proxy.get("/u/\(id)") }
        await proxy.app.cache.flushWrites()
        #expect(Self.tiers(try await Self.purge(proxy, #"{"tag": "user-1"}"#))["l1"] == 1)
        #expect(Self.tiers(try await Self.purge(proxy, #"{"tag": "t2"}"#))["l1"] == 1)
        #expect(try await proxy.get("/u/1").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await proxy.get("/u/2").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(try await proxy.get("/u/3").cacheStatus.hasPrefix("paca; hit"))
        // L2 still has /u/3's file; a tag ban drops an older copy when it is read from L2.
        _ = try await Self.purge(proxy, #"{"tag": "users"}"#)
        proxy.app.memory.removeAll()
        #expect(try await proxy.get("/u/3").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
    }

    @Test("a soft purge marks entries stale: the next request revalidates with the stored validator")
    func softPurge() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"e\"" { return TestOrigin.Reply(status: 304, headers: [("ETag", "\"e\"")]) }
            return TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("ETag", "\"e\"")], body: "soft")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(disk: false))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/s")
        let report = try await Self.purge(proxy, #"{"pattern": "/s", "soft": true}"#)
        #expect(Self.tiers(report)["l1"] == 1)
        let next = try await proxy.get("/s")
        #expect(next.body == "soft")
        #expect(next.cacheStatus.hasPrefix("paca; fwd=stale; fwd-status=304"))
        #expect(origin.requests.last?.header("if-none-match") == "\"e\"")
    }

    @Test("a dry run counts and removes nothing")
    func dryRun() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/d/1")
        _ = try await proxy.get("/d/2")
        await proxy.app.cache.flushWrites()
        let report = try await Self.purge(proxy, #"{"pattern": "/d/*", "dry_run": true}"#)
        #expect(Self.tiers(report) == ["l1": 2, "l2": 2])
        #expect(report["ban"] == nil)
        #expect(try await proxy.get("/d/1").cacheStatus.hasPrefix("paca; hit"))
    }

    @Test("a fill in flight during a purge does not land")
    func fillInFlight() async throws {
        // The origin sends its head, then holds the body until released: the fill is in flight.
        let origin = try await StreamingOrigin(.init(size: 1000, headers: [("Cache-Control", "max-age=600")], holdAfter: 0))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: false), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        async let first = proxy.get("/slow")
        await origin.waitForRequests(1)
        _ = try await Self.purge(proxy, #"{"pattern": "/sl*"}"#)
        origin.release()
        let answered = try await first
        #expect(answered.status == 200)
        #expect(!answered.cacheStatus.contains("stored"))
        #expect(try await proxy.get("/slow").cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(origin.requests == 2)
    }

    @Test("bad purge requests are 400s; a body that is not JSON is 415")
    func badRequests() async throws {
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: false))
        defer { Task { await proxy.shutdown() } }

        for body in [#"{}"#, #"{"pattern": "/a", "tag": "b"}"#, #"{"pattern": "no-slash"}"#, #"{"pattern": "/a", "hard": true}"#, "[1]"] {
            #expect(try await Self.admin(proxy, "POST", "/purge", json: body).status == 400, "\(body)")
        }
        let port = try #require(proxy.app.adminPort)
        let form = try await fetch(
            port: port, group: proxy.group, method: "POST", path: "/purge", headers: [("Content-Type", "text/plain")], body: "pattern=/a")
        #expect(form.status == 415)
        #expect(try await Self.admin(proxy, "GET", "/purge").status == 405)
        #expect(try await Self.admin(proxy, "GET", "/nothing").status == 404)
    }

    @Test("/healthz answers 200 with no token; everything else needs it when one is set")
    func tokenAndHealth() async throws {
        let variable = "PACA_TEST_TOKEN_\(UUID().uuidString.prefix(8))"
        let proxy = try await ProxyHarness.start(
            origin: nil, config: catchAll(#", "admin": { "listen": "127.0.0.1:0", "token_env": "\#(variable)" }"#),
            environment: [variable: "test-token-0123456789"])
        defer { Task { await proxy.shutdown() } }
        let port = try #require(proxy.app.adminPort)

        #expect(try await fetch(port: port, group: proxy.group, path: "/healthz").status == 200)
        let missing = try await fetch(port: port, group: proxy.group, path: "/stats")
        #expect(missing.status == 401)
        #expect(!missing.body.contains("token"))
        let wrong = try await fetch(
            port: port, group: proxy.group, path: "/stats", headers: [("Authorization", "Bearer nope-nope-nope-nope")])
        #expect(wrong.status == 401)
        let right = try await fetch(
            port: port, group: proxy.group, path: "/stats", headers: [("Authorization", "Bearer test-token-0123456789")])
        #expect(right.status == 200)
        let connection = try await RawConnection.connect(port: port, group: proxy.group)
        try await connection.send(
            "GET /stats HTTP/1.1\r\nHost: evil.example:\(port)\r\nAuthorization: Bearer test-token-0123456789\r\n\r\n")
        #expect(try await connection.readResponse().status == 403)
        await connection.close()
        let crossSite = try await fetch(
            port: port, group: proxy.group, method: "POST", path: "/purge",
            headers: [
                ("Authorization", "Bearer test-token-0123456789"), ("Origin", "http://evil.example"), ("Content-Type", "application/json"),
            ],
            body: #"{"pattern": "/*"}"#)
        #expect(crossSite.status == 403)
    }

    @Test("an admin token that is too short, or missing from the environment, stops the start")
    func badTokenStopsStart() async throws {
        let variable = "PACA_TEST_SHORT_\(UUID().uuidString.prefix(8))"
        await #expect(throws: (any Error).self) {
            _ = try await ProxyHarness.start(
                origin: nil, config: catchAll(#", "admin": { "listen": "127.0.0.1:0", "token_env": "\#(variable)" }"#),
                environment: [variable: "short"])
        }
        await #expect(throws: (any Error).self) {
            _ = try await ProxyHarness.start(
                origin: nil, config: catchAll(#", "admin": { "listen": "127.0.0.1:0", "token_env": "PACA_NOT_SET_EVER" }"#))
        }
        await #expect(throws: (any Error).self) {
            _ = try await ProxyHarness.start(origin: nil, config: catchAll(#", "admin": { "listen": "0.0.0.0:0" }"#))
        }
    }

    @Test("reload swaps the routes; a broken file or a listen change is refused and the old config keeps serving")
    func reload() async throws {
        let origin = try await TestOrigin(Self.cacheable)
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(disk: false, routeExtra: #", "ttl": "10s""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let file = proxy.directory + "/routes.json"
        let original = try String(contentsOfFile: file, encoding: .utf8)

        try "{ \"listen\": ".write(toFile: file, atomically: true, encoding: .utf8)
        let broken = try await Self.admin(proxy, "POST", "/reload", json: "{}")
        #expect(broken.status == 422)
        #expect(try await proxy.get("/still").status == 200)

        try original.replacingOccurrences(of: "\"listen\": \"127.0.0.1:0\"", with: "\"listen\": \"127.0.0.1:1\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let moved = try await Self.admin(proxy, "POST", "/reload", json: "{}")
        #expect(moved.status == 409)
        #expect(moved.body.contains("requires restart"))

        try original.replacingOccurrences(of: "\"match\": \"/*\"", with: "\"match\": \"/only/*\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await Self.admin(proxy, "POST", "/reload", json: "{}").status == 200)
        #expect(try await proxy.get("/elsewhere").status == 404)
        #expect(try await proxy.get("/only/here").status == 200)
        let routes = try await Self.admin(proxy, "GET", "/routes")
        #expect(routes.body.contains("/only/*"))
    }
}

@Suite("paca purge, the admin API's command-line client", .timeLimit(.minutes(1)))
struct PurgeCommandTests {
    @Test("paca purge PATTERN, --tag and --dry-run report per tier; a refused purge exits 1 with the reason")
    func purgeCommand() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("Surrogate-Key", "t")], body: "x")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: AdminPurgeTests.config(disk: false))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let admin = "http://127.0.0.1:\(try #require(proxy.app.adminPort))"

        _ = try await proxy.get("/a/1")
        _ = try await proxy.get("/a/2")
        let dry = try await runPaca(["purge", "/a/*", "--dry-run", "--admin", admin], in: proxy.directory)
        #expect(dry.status == 0, "\(dry.error)")
        #expect(dry.output.contains("would purge: l1 2"))
        let real = try await runPaca(["purge", "--tag", "t", "--admin", admin], in: proxy.directory)
        #expect(real.output.contains("purged: l1 2"))
        let refused = try await runPaca(["purge", "no-slash", "--admin", admin], in: proxy.directory)
        #expect(refused.status == 1)
        #expect(refused.error.contains("pattern must start with"))
        let unreachable = try await runPaca(["purge", "/x", "--admin", "http://127.0.0.1:1"], in: proxy.directory)
        #expect(unreachable.status == 1)
        #expect(unreachable.error.contains("cannot connect to the admin API"))
    }
}
