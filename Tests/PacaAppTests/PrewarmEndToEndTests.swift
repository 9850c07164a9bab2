import Foundation
import NIOCore
import PacaCore
import PacaTestSupport
import Testing

/// Prewarming end to end: a real proxy (listener, libcurl, tiers) in front of a recording origin.
/// The prewarmer's own task sleeps on a clock that never moves; each test steps it after moving
/// the wall clock, so nothing depends on real time.
@Suite("Prewarming through the proxy", .timeLimit(.minutes(1)))
struct PrewarmEndToEndTests {
    /// An origin whose answers are fresh for 60 s, with an ETag; it answers 304 to a matching
    /// `If-None-Match`.
    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            let etag = "\"\(seen.uri.hashValue & 0xffff)\""
            if seen.header("if-none-match") == etag {
                return .init(status: 304, headers: [("Cache-Control", "max-age=60"), ("ETag", etag)])
            }
            return .init(headers: [("Cache-Control", "max-age=60"), ("ETag", etag)], body: "body of \(seen.uri)")
        }
    }

    static func config(l2: Bool = false, top: Int = 1000, extra: String = "") -> String {
        let storage = l2 ? #", "storage": { "l2": { "path": "cache", "max_bytes": "64MB" } }"# : ""
        return catchAll(
            #", "admin": { "listen": "127.0.0.1:0" }, "access_log": { "path": "access.log" }\#(storage), "prewarm": { "enabled": true, "top": \#(top), "max_rps": 100\#(extra) }"#
        )
    }

    static func start(_ origin: TestOrigin, config: String, directory: String? = nil) async throws -> ProxyHarness {
        try await ProxyHarness.start(origin: origin, config: config, directory: directory, prewarmClock: ManualClock())
    }

    static func admin(_ proxy: ProxyHarness, _ method: String, _ path: String, json: String? = nil) async throws -> TestResponse {
        let port = try #require(proxy.app.adminPort)
        return try await fetch(
            port: port, group: proxy.group, method: method, path: path,
            headers: json == nil ? [] : [("Content-Type", "application/json")], body: json)
    }

    /// Steps the prewarmer until its queue is empty, moving the wall clock 100 ms between steps
    /// (the rate budget spaces requests), waiting for each step's requests to finish.
    static func drain(_ proxy: ProxyHarness) async throws {
        let prewarmer = try #require(proxy.app.prewarmer)
        for _ in 0..<100 {
            prewarmer.step()
            await prewarmer.waitUntilIdle()
            if prewarmer.status().queued == 0 { return }
            proxy.clock.advance(by: .milliseconds(100))
        }
        Issue.record("the prewarmer's queue did not empty: \(prewarmer.status())")
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any], "\(response.body)")
    }

    @Test("refresh-ahead: a hot entry is revalidated (If-None-Match, 304) shortly before it expires and never misses; a cold one expires")
    func refreshAhead() async throws {
        let origin = try await Self.origin()
        let proxy = try await Self.start(origin, config: Self.config())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let prewarmer = try #require(proxy.app.prewarmer)
        #expect(try await proxy.get("/cold").status == 200)
        for _ in 0..<10 {
            #expect(try await proxy.get("/hot").status == 200)
            proxy.clock.advance(by: .seconds(1))
        }
        proxy.app.flushAccessLog()
        #expect(origin.requestCount == 2)
        // 55 s after the fill: within the lead (6 s) of the 60 s lifetime.
        proxy.clock.advance(by: .seconds(45))
        prewarmer.step()
        await prewarmer.waitUntilIdle()
        #expect(origin.requestCount == 3)
        let refresh = try #require(origin.requests.last)
        #expect(refresh.uri == "/hot")
        #expect(refresh.header("if-none-match") != nil)
        // Past the first copy's expiry: still a hit.
        proxy.clock.advance(by: .seconds(10))
        let later = try await proxy.get("/hot")
        #expect(later.cacheStatus.contains("hit"), "\(later.cacheStatus)")
        #expect(later.body == "body of /hot")
        let cold = try await proxy.get("/cold")
        #expect(!cold.cacheStatus.contains("hit"), "\(cold.cacheStatus)")
        #expect(origin.requests.filter { $0.uri == "/cold" }.count == 2)
        let stats = try Self.object(try await Self.admin(proxy, "GET", "/stats"))
        let prewarm = try #require(stats["prewarm"] as? [String: Any])
        #expect(prewarm["warmed"] as? Int == 1)
        #expect(prewarm["origin_requests"] as? Int == 1)
        let metrics = try await Self.admin(proxy, "GET", "/metrics")
        #expect(metrics.body.contains("paca_prewarm_warmed_total{result=\"refresh\"} 1"), "\(metrics.body)")
        // Warming requests are not client requests: the access log has none.
        proxy.app.flushAccessLog()
        let log = try String(contentsOfFile: proxy.directory + "/access.log", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 13)
    }

    @Test("after a restart the predicted hot set is in L1 before it is asked for: promoted from L2, without the origin")
    func startupFromL2() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let first = try await Self.start(origin, config: Self.config(l2: true, top: 2))
        for (path, count) in [("/a", 20), ("/b", 10), ("/c", 1)] {
            for _ in 0..<count { #expect(try await first.get(path).status == 200) }
        }
        first.app.flushAccessLog()
        await first.app.cache.flushWrites()
        let directory = first.directory
        await first.shutdown(keepDirectory: true)
        #expect(FileManager.default.fileExists(atPath: directory + "/cache.warming-model.json"))
        #expect(origin.requestCount == 3)

        let second = try await Self.start(origin, config: Self.config(l2: true, top: 2), directory: directory)
        defer { Task { await second.shutdown() } }
        let prewarmer = try #require(second.app.prewarmer)
        try await Self.drain(second)
        let status = prewarmer.status()
        #expect(status.totals.promoted == 2, "\(status)")
        #expect(origin.requestCount == 3)
        for path in ["/a", "/b"] {
            let response = try await second.get(path)
            #expect(response.cacheStatus.contains("detail=l1"), "\(path): \(response.cacheStatus)")
        }
        let c = try await second.get("/c")
        #expect(c.cacheStatus.contains("detail=l2"), "\(c.cacheStatus)")
    }

    @Test("after a restart without L2 the hot set is fetched from the origin, hottest first, before clients ask")
    func startupFromOrigin() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let first = try await Self.start(origin, config: Self.config(top: 2))
        for (path, count) in [("/a", 20), ("/b", 10), ("/c", 1)] {
            for _ in 0..<count { #expect(try await first.get(path).status == 200) }
        }
        first.app.flushAccessLog()
        let directory = first.directory
        await first.shutdown(keepDirectory: true)

        let second = try await Self.start(origin, config: Self.config(top: 2), directory: directory)
        defer { Task { await second.shutdown() } }
        try await Self.drain(second)
        // Both in flight at once (max_concurrency 2): the order they reach the origin varies.
        #expect(Set(origin.requests.suffix(2).map(\.uri)) == ["/a", "/b"])
        let a = try await second.get("/a")
        #expect(a.cacheStatus.contains("hit"), "\(a.cacheStatus)")
        #expect(origin.requestCount == 5)
    }

    @Test("POST /prewarm warms the URLs given through the pipeline; GET /prewarm reports; bad bodies are 400, prewarming off is 409")
    func adminAPI() async throws {
        let origin = try await Self.origin()
        let proxy = try await Self.start(origin, config: Self.config())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let posted = try await Self.admin(proxy, "POST", "/prewarm", json: #"{"urls": ["/x", "/y?b=2&a=1"]}"#)
        #expect(posted.status == 200, "\(posted.body)")
        try await Self.drain(proxy)
        // Keyed as a client's request is: the query sorted.
        #expect(Set(origin.requests.map(\.uri)) == ["/x", "/y?a=1&b=2"])
        let x = try await proxy.get("/x")
        #expect(x.cacheStatus.contains("hit"), "\(x.cacheStatus)")
        proxy.app.flushAccessLog()
        let report = try Self.object(try await Self.admin(proxy, "GET", "/prewarm"))
        #expect(report["warmed"] as? Int == 2)
        #expect(report["used"] as? Int == 1)
        #expect((report["next"] as? [Any])?.isEmpty == false)
        for body in [#"{"urls": "/x"}"#, #"{"urls": ["x"]}"#, #"{"top": 0}"#, #"{"top": 1, "more": 2}"#] {
            #expect(try await Self.admin(proxy, "POST", "/prewarm", json: body).status == 400, "\(body)")
        }
        #expect(try await Self.admin(proxy, "DELETE", "/prewarm").status == 405)

        let off = try await ProxyHarness.start(origin: origin, config: catchAll(#", "admin": { "listen": "127.0.0.1:0" }"#))
        defer { Task { await off.shutdown() } }
        #expect(try await Self.admin(off, "GET", "/prewarm").status == 409)
    }
}
