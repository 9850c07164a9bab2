import Foundation
import NIOCore
import PacaTestSupport
import Testing

@Suite("The proxy end to end: real listener, real libcurl, in-process origin")
struct ProxyEndToEndTests {
    static func cacheable(body: String = "hello", maxAge: Int = 60) -> @Sendable (TestOrigin.Seen) -> TestOrigin.Reply {
        { _ in TestOrigin.Reply(headers: [("Cache-Control", "public, max-age=\(maxAge)"), ("Content-Type", "text/plain")], body: body) }
    }

    @Test("first GET is a stored miss, the second an L1 hit with Age; the origin sees one request")
    func missThenHit() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let first = try await proxy.get("/api/item")
        #expect(first.status == 200)
        #expect(first.body == "hello")
        #expect(first.cacheStatus == "paca; fwd=uri-miss; fwd-status=200; stored; ttl=60")
        proxy.clock.advance(by: .seconds(5))
        let second = try await proxy.get("/api/item")
        #expect(second.status == 200)
        #expect(second.body == "hello")
        #expect(second.cacheStatus == "paca; hit; ttl=55; detail=l1")
        #expect(second.header("age") == "5")
        #expect(second.header("via") == "1.1 paca")
        #expect(origin.requestCount == 1)
    }

    @Test("an entry expires after its TTL (clock advanced, no sleeping)")
    func expiry() async throws {
        let origin = try await TestOrigin(Self.cacheable(maxAge: 30))
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/x")
        proxy.clock.advance(by: .seconds(29))
        #expect(try await proxy.get("/x").cacheStatus.contains("hit"))
        proxy.clock.advance(by: .seconds(2))
        let after = try await proxy.get("/x")
        #expect(after.cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(origin.requestCount == 2)
    }

    @Test("the route ttl applies when the origin gives no freshness")
    func routeTTL() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "plain") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: #", "ttl": "10s""#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/p").cacheStatus.contains("stored; ttl=10"))
        #expect(try await proxy.get("/p").cacheStatus.contains("hit"))
        proxy.clock.advance(by: .seconds(11))
        #expect(try await proxy.get("/p").cacheStatus.contains("fwd=uri-miss"))
        #expect(origin.requestCount == 2)
    }

    @Test("query parameter order does not split the key; unkeyed parameters never reach the origin")
    func queryKeying() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "key": { "query": { "exclude": ["utm_source", "_"] } }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/q?a=1&b=2&utm_source=x").cacheStatus.contains("stored"))
        #expect(try await proxy.get("/q?b=2&a=1").cacheStatus.contains("hit"))
        #expect(try await proxy.get("/q?_=123&b=2&utm_source=y&a=1").cacheStatus.contains("hit"))
        #expect(try await proxy.get("/q?a=1&b=3").cacheStatus.contains("fwd=uri-miss"))
        #expect(origin.requestCount == 2)
        #expect(origin.requests[0].uri == "/q?a=1&b=2")
    }

    @Test("an include list keys only the named parameters")
    func queryInclude() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "key": { "query": { "include": ["id"] } }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/u?id=7&session=abc")
        #expect(try await proxy.get("/u?session=zzz&id=7").cacheStatus.contains("hit"))
        #expect(origin.requests.map(\.uri) == ["/u?id=7"])
    }

    @Test("paths are normalised before matching and keying")
    func pathNormalisation() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/a/b")
        #expect(try await proxy.get("/a/./x/../b").cacheStatus.contains("hit"))
        #expect(try await proxy.get("//a//%62").cacheStatus.contains("hit"))
        #expect(try await proxy.get("/a/%zz").status == 400)
        #expect(origin.requestCount == 1)
    }

    @Test("an unmatched path is answered 404 without asking the origin")
    func unmatched() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(
            origin: origin, config: #"{ "listen": "127.0.0.1:0", "routes": [ { "match": "/api/*", "origin": "ORIGIN" } ] }"#)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.get("/other")
        #expect(response.status == 404)
        #expect(response.headers("cache-status").isEmpty)
        #expect(try await proxy.get("/api").status == 404)
        #expect(origin.requestCount == 0)
    }

    @Test("an origin that is down gives 502 within the connect timeout")
    func originDown() async throws {
        // A bound port that never listens: every connection is refused.
        let closed = ClosedPort()
        let proxy = try await ProxyHarness.start(
            origin: nil,
            config: #"{ "listen": "127.0.0.1:0", "routes": [ { "match": "/*", "origin": "ORIGIN", "connect_timeout": "30s" } ] }"#,
            originURL: closed.url)
        defer {
            Task {
                await proxy.shutdown(); _ = closed
            }
        }

        let started = ContinuousClock.now
        let response = try await proxy.get("/x")
        #expect(response.status == 502)
        #expect(response.body.contains("cannot connect to origin"))
        #expect(response.headers("cache-status").isEmpty)
        // A refused connection fails at once, well inside the connect timeout.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("an origin slower than the route timeout gives 504")
    func originTimeout() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(hang: true) }
        let proxy = try await ProxyHarness.start(
            origin: origin,
            config: #"{ "listen": "127.0.0.1:0", "routes": [ { "match": "/*", "origin": "ORIGIN", "timeout": "300ms" } ] }"#)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.get("/slow")
        #expect(response.status == 504)
    }

    @Test("responses the origin marks private or no-store are passed on but not stored")
    func notStored() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(headers: [("Cache-Control", seen.uri == "/private" ? "private, max-age=60" : "no-store")], body: "secret")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/private").cacheStatus == "paca; fwd=uri-miss; fwd-status=200; detail=private")
        // Uncacheable answers make the key hit-for-miss: the next request skips coalescing.
        #expect(try await proxy.get("/private").cacheStatus == "paca; fwd=bypass; fwd-status=200; detail=hit-for-miss")
        #expect(try await proxy.get("/nostore").cacheStatus.contains("detail=no-store"))
        #expect(origin.requestCount == 3)
    }

    @Test("a request with an unkeyed cookie bypasses the cache; strip_cookies keeps it cacheable")
    func cookies() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(
            origin: origin,
            config: #"""
                { "listen": "127.0.0.1:0", "routes": [
                  { "name": "strip", "match": "/strip/*", "origin": "ORIGIN", "strip_cookies": true },
                  { "name": "rest", "match": "/*", "origin": "ORIGIN" } ] }
                """#)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/c", headers: [("Cookie", "s=1")]).cacheStatus == "paca; fwd=bypass; fwd-status=200; detail=cookie")
        #expect(origin.requests.last?.header("cookie") == "s=1")
        _ = try await proxy.get("/strip/a", headers: [("Cookie", "s=1")])
        #expect(origin.requests.last?.header("cookie") == nil)
        #expect(try await proxy.get("/strip/a", headers: [("Cookie", "s=2")]).cacheStatus.contains("hit"))
    }

    @Test("HEAD is answered from a cached GET, without a body")
    func headFromGet() async throws {
        let origin = try await TestOrigin(Self.cacheable(body: "0123456789"))
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/h")
        let head = try await proxy.request("HEAD", "/h")
        #expect(head.status == 200)
        #expect(head.header("content-length") == "10")
        #expect(head.body.isEmpty)
        #expect(head.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 1)
    }

    @Test("POST bodies reach the origin; the answer is marked fwd=method and nothing is stored")
    func postPassThrough() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(status: 201, headers: [("Cache-Control", "max-age=60")], body: "got \(seen.body)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.request(
            "POST", "/orders?x=1", headers: [("Content-Type", "application/json"), ("X-Custom", "kept")], body: #"{"n":1}"#)
        #expect(response.status == 201)
        #expect(response.body == #"got {"n":1}"#)
        #expect(response.cacheStatus == "paca; fwd=method; fwd-status=201")
        let seen = try #require(origin.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.uri == "/orders?x=1")
        #expect(seen.header("content-type") == "application/json")
        #expect(seen.header("x-custom") == "kept")
        #expect(seen.header("via") == "1.1 paca")
    }

    @Test("hop-by-hop fields are stripped both ways; Via and X-Forwarded-For are set")
    func hopByHop() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(
                headers: [
                    ("Connection", "X-Secret"), ("X-Secret", "1"), ("Keep-Alive", "timeout=5"), ("Cache-Control", "max-age=60"),
                    ("Proxy-Authenticate", "Basic"), ("Via", "1.1 origin"),
                ],
                body: "ok")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.request(
            "DELETE", "/r", headers: [("Connection", "X-Drop"), ("X-Drop", "1"), ("TE", "trailers"), ("X-Forwarded-For", "6.6.6.6")])
        #expect(response.header("x-secret") == nil)
        #expect(response.header("keep-alive") == nil)
        #expect(response.header("proxy-authenticate") == nil)
        #expect(response.header("via") == "1.1 origin, 1.1 paca")
        let seen = try #require(origin.requests.first)
        #expect(seen.header("x-drop") == nil)
        #expect(seen.header("te") == nil)
        #expect(seen.header("x-forwarded-for") == "127.0.0.1")
    }

    @Test("100 concurrent misses for one slow URL make one origin request")
    func coalescing() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "slow", delay: .milliseconds(300))
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
            for _ in 0..<100 { group.addTask { try await proxy.get("/slow") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.count == 100)
        #expect(responses.allSatisfy { $0.status == 200 && $0.body == "slow" })
        #expect(origin.requestCount == 1)
        #expect(responses.filter { $0.cacheStatus.contains("collapsed") || $0.cacheStatus.contains("hit") }.count == 99)
    }

    @Test("pipelined requests are answered in order on one connection")
    func pipelining() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=60")], body: seen.uri, delay: seen.uri == "/1" ? .milliseconds(100) : .zero)
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let connection = try await proxy.connect()
        try await connection.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        let bodies = [
            try await connection.readResponse().body, try await connection.readResponse().body, try await connection.readResponse().body,
        ]
        #expect(bodies == ["/1", "/2", "/1"])
        await connection.close()
    }

    @Test("the access log gets one JSON line per request with the documented fields")
    func accessLog() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/logged?a=1")
        _ = try await proxy.get("/logged?a=1")
        proxy.app.flushAccessLog()
        let text = try String(contentsOfFile: proxy.directory + "/logs/access.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        let records = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(records.map { $0["cache"] as? String } == ["miss", "hit"])
        for key in [
            "ts", "method", "host", "url", "route", "status", "bytes", "cache", "tier", "ttl", "collapsed", "key", "ms", "origin_ms",
            "client",
        ] {
            #expect(records[1][key] != nil, "missing \(key)")
        }
        #expect(records[1]["url"] as? String == "/logged?a=1")
        #expect(records[1]["tier"] as? String == "l1")
        #expect(records[1]["client"] as? String == "127.0.0.1")
        #expect(records[0]["key"] as? String == records[1]["key"] as? String)
    }

    @Test("the log's host is the request's Host, whether the fast path read the head (which keeps it) or NIO's decoder did")
    func accessLogHost() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let connection = try await proxy.connect()
        // The fast path: Host after a field whose name ends in "host", in capitals. Then a head
        // with a body length, which goes to NIO's decoder. Then the fast path again.
        try await connection.send("GET /h HTTP/1.1\r\nX-Host: wrong.example\r\nHOST: Fast.Example:8080\r\n\r\n")
        _ = try await connection.readResponse()
        try await connection.send("GET /h HTTP/1.1\r\nHost: decoded.example\r\nContent-Length: 0\r\n\r\n")
        _ = try await connection.readResponse()
        try await connection.send("GET /h HTTP/1.1\r\nhost: again.example\r\n\r\n")
        _ = try await connection.readResponse()
        await connection.close()
        let records = try accessLogRecords(proxy)
        #expect(records.map { $0["host"] as? String } == ["Fast.Example:8080", "decoded.example", "again.example"])
    }

    @Test("hits of one head on a kept-alive connection log whole lines, its route renamed by a reload and another head between")
    func accessLogRepeatedHead() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let connection = try await proxy.connect()
        let head = "GET /again?x=1 HTTP/1.1\r\nHost: Again.Example\r\n\r\n"
        // A miss, then hits of the same head: the hits after the first share its strings.
        for _ in 0..<4 {
            try await connection.send(head)
            _ = try await connection.readResponse()
        }
        // The route renamed: a hit of the same head names the new route.
        let file = proxy.directory + "/routes.json"
        let config = try String(contentsOfFile: file, encoding: .utf8)
        try config.replacingOccurrences(of: #""name": "all""#, with: #""name": "renamed""#).write(
            toFile: file, atomically: true, encoding: .utf8)
        guard case .success = proxy.app.reload() else {
            Issue.record("the reload was refused")
            return
        }
        try await connection.send(head)
        _ = try await connection.readResponse()
        try await connection.send(head)
        _ = try await connection.readResponse()
        // Another head in between, then the first again.
        try await connection.send("GET /other HTTP/1.1\r\nHost: other.example\r\n\r\n")
        _ = try await connection.readResponse()
        try await connection.send(head)
        _ = try await connection.readResponse()
        await connection.close()
        let records = try accessLogRecords(proxy)
        func field(_ name: String) -> [String?] { records.map { $0[name] as? String } }
        #expect(
            field("url") == ["/again?x=1", "/again?x=1", "/again?x=1", "/again?x=1", "/again?x=1", "/again?x=1", "/other", "/again?x=1"])
        #expect(
            field("host") == [
                "Again.Example", "Again.Example", "Again.Example", "Again.Example", "Again.Example", "Again.Example", "other.example",
                "Again.Example",
            ])
        #expect(field("route") == ["all", "all", "all", "all", "renamed", "renamed", "renamed", "renamed"])
        #expect(field("cache") == ["miss", "hit", "hit", "hit", "hit", "hit", "miss", "hit"])
        #expect(field("method") == Array(repeating: "GET", count: 8))
        #expect(field("client") == Array(repeating: "127.0.0.1", count: 8))
        #expect(field("tier") == [nil, "l1", "l1", "l1", "l1", "l1", nil, "l1"])
        let keys = field("key")
        #expect(Set(keys.enumerated().filter { $0.offset != 6 }.map(\.element)).count == 1, "one key for every line of the head")
        #expect(keys[6] != keys[0])
    }

    @Test("connections taking turns with one head log whole lines, each its own client port's peer")
    func accessLogHeadsTakingTurns() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        _ = try await proxy.get("/turns")
        let connections = [try await proxy.connect(), try await proxy.connect(), try await proxy.connect()]
        for round in 0..<4 {
            for (number, connection) in connections.enumerated() {
                let path = number == 2 && round % 2 == 1 ? "/turns?odd" : "/turns"
                try await connection.send("GET \(path) HTTP/1.1\r\nHost: turn\(number).example\r\n\r\n")
                _ = try await connection.readResponse()
            }
        }
        for connection in connections { await connection.close() }
        let records = try accessLogRecords(proxy).dropFirst()
        let expected = (0..<4).flatMap { round in
            (0..<3).map { number in "\(number == 2 && round % 2 == 1 ? "/turns?odd" : "/turns") turn\(number).example" }
        }
        #expect(records.map { "\($0["url"] as? String ?? "-") \($0["host"] as? String ?? "-")" } == expected)
        #expect(records.allSatisfy { $0["client"] as? String == "127.0.0.1" && $0["route"] as? String == "all" })
    }

    @Test("the log names the forwarded client only while the peer is a trusted proxy, reload after reload")
    func accessLogClientBehindTrustedProxy() async throws {
        let origin = try await TestOrigin(Self.cacheable())
        let untrusted = #""trusted_proxies": []"#
        let trusted = #""trusted_proxies": ["127.0.0.1"]"#
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }, "# + untrusted))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let file = proxy.directory + "/routes.json"
        let config = try String(contentsOfFile: file, encoding: .utf8)
        #expect(config.contains(untrusted))
        let forwarded = [("X-Forwarded-For", "198.51.100.7, 203.0.113.9")]
        // Trusting none, then the peer, then none again: each reload takes effect for the log.
        _ = try await proxy.get("/who", headers: forwarded)
        for next in [config.replacingOccurrences(of: untrusted, with: trusted), config] {
            try next.write(toFile: file, atomically: true, encoding: .utf8)
            guard case .success = proxy.app.reload() else {
                Issue.record("a reload was refused")
                return
            }
            _ = try await proxy.get("/who", headers: forwarded)
        }
        let records = try accessLogRecords(proxy)
        #expect(records.map { $0["client"] as? String } == ["127.0.0.1", "203.0.113.9", "127.0.0.1"])
    }

    @Test("a varied entry logs one key on its miss and its hits; tier is null on a miss; a background refresh says so")
    func accessLogKeysAreStable() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=10, stale-while-revalidate=60"), ("Vary", "Accept-Language")],
                body: "in \(seen.header("accept-language") ?? "-")")
        }
        let proxy = try await ProxyHarness.start(
            origin: origin,
            config: catchAll(#", "access_log": { "path": "logs/access.log" }"#, routeExtra: #", "key": { "headers": ["X-Tenant"] }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/api/users/30", headers: [("Accept-Language", "fr"), ("X-Tenant", "a")])
        _ = try await proxy.get("/api/users/30", headers: [("Accept-Language", "fr"), ("X-Tenant", "a")])
        _ = try await proxy.get("/api/users/30", headers: [("Accept-Language", "en"), ("X-Tenant", "a")])
        proxy.clock.advance(by: .seconds(20))
        _ = try await proxy.get("/api/users/30", headers: [("Accept-Language", "fr"), ("X-Tenant", "a")])
        await origin.waitForRequests(3)
        let records = try accessLogRecords(proxy)
        let fr = records.filter { ($0["background"] as? Bool) != true && $0["cache"] as? String != nil }
        #expect(fr[0]["cache"] as? String == "miss")
        #expect(fr[0]["tier"] is NSNull)
        #expect(fr[1]["cache"] as? String == "hit")
        #expect(fr[0]["key"] as? String == fr[1]["key"] as? String)
        #expect(fr[2]["key"] as? String != fr[0]["key"] as? String)  // another variant, another entry
        #expect(fr[3]["cache"] as? String == "stale")
        #expect(fr[3]["key"] as? String == fr[0]["key"] as? String)
    }

    @Test("a revalidation answered 304 logs the origin's time, and a background one says it is background")
    func accessLogRevalidations() async throws {
        let origin = try await TestOrigin { seen in
            let control = seen.uri.hasPrefix("/background") ? "max-age=10, stale-while-revalidate=60" : "max-age=10"
            let fields = [("ETag", "\"v1\""), ("Cache-Control", control)]
            if seen.header("if-none-match") == "\"v1\"" { return TestOrigin.Reply(status: 304, headers: fields) }
            return TestOrigin.Reply(headers: fields, body: "v1")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "access_log": { "path": "logs/access.log" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        _ = try await proxy.get("/revalidated")
        _ = try await proxy.get("/background")
        proxy.clock.advance(by: .seconds(20))
        // Stale without stale-while-revalidate: the client waits for the 304.
        _ = try await proxy.get("/revalidated")
        // Stale within stale-while-revalidate: the client gets the stale answer and the 304
        // comes to a background refresh. Once it has, the entry is fresh again: asked until a
        // hit comes back (each ask is a request, none waits on a timer).
        _ = try await proxy.get("/background")
        var refreshed = false
        for _ in 0..<2000 where !refreshed {
            refreshed = try await proxy.get("/background").header("Cache-Status")?.contains("; hit") == true
        }
        #expect(refreshed, "the background refresh never completed")
        let records = try accessLogRecords(proxy)
        let revalidated = records.filter { $0["cache"] as? String == "revalidated" }
        #expect(revalidated.count == 2)
        let client = try #require(revalidated.first { $0["url"] as? String == "/revalidated" })
        #expect(client["origin_ms"] is Double, "the origin was asked")
        #expect(client["background"] == nil)
        let background = try #require(revalidated.first { $0["url"] as? String == "/background" })
        #expect(background["background"] as? Bool == true)
        #expect(background["origin_ms"] is Double)
    }

    @Test("a graceful stop lets a request in flight finish")
    func gracefulShutdown() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "finished", delay: .milliseconds(300)) }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer { Task { await origin.shutdown() } }

        let connection = try await proxy.connect()
        try await connection.send("GET /inflight HTTP/1.1\r\nHost: a\r\n\r\n")
        // The origin has the request once it is recorded; stop the proxy while it waits.
        while origin.requestCount == 0 { await Task.yield() }
        async let stopped: Void = proxy.shutdown()
        let response = try await connection.readResponse()
        #expect(response.status == 200)
        #expect(response.body == "finished")
        // Closed after the answer: with `Connection: close` when the stop came first, or as an
        // idle connection right after it otherwise.
        #expect(try await connection.isClosedByPeer())
        await stopped
    }
}

/// The lines of `proxy`'s access log (`logs/access.log`), flushed first, as JSON objects.
private func accessLogRecords(_ proxy: ProxyHarness) throws -> [[String: Any]] {
    proxy.app.flushAccessLog()
    let text = try String(contentsOfFile: proxy.directory + "/logs/access.log", encoding: .utf8)
    return try text.split(separator: "\n").map {
        try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
}
