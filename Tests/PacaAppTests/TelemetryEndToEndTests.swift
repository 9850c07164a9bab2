import Foundation
import NIOCore
import PacaApp
import PacaCore
import PacaTestSupport
import Testing

/// `/stats` and `/metrics` through the real admin listener after real traffic.
@Suite("Telemetry end to end", .timeLimit(.minutes(1)))
struct TelemetryEndToEndTests {
    /// Two cached routes (one in front of a closed port) and a pass-through route; L1 and L2;
    /// an access log.
    static let config = """
        { "listen": "127.0.0.1:0", "admin": { "listen": "127.0.0.1:0" },
          "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2", "max_bytes": "64MB" } },
          "access_log": { "path": "logs/access.log" },
          "routes": [
            { "name": "users", "match": "/users/*", "origin": "ORIGIN", "timeout": "5s" },
            { "name": "down", "match": "/down/*", "origin": "http://127.0.0.1:1", "connect_timeout": "2s" },
            { "name": "live", "match": "/*", "origin": "ORIGIN", "cache": false } ] }
        """

    /// Starts the proxy, sends 3 misses and 6 hits on `users`, 2 passes on `live` and 2
    /// connection failures on `down`.
    static func withTraffic(_ body: (ProxyHarness, Int) async throws -> Void) async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: "body of \(seen.uri)", delay: .milliseconds(20))
        }
        let harness = try await ProxyHarness.start(origin: origin, config: config)
        let adminPort = try #require(harness.app.adminPort)
        for round in 0..<3 {
            for id in 1...3 {
                let response = try await harness.get("/users/\(id)")
                #expect(response.status == 200, "round \(round)")
            }
        }
        for _ in 0..<2 {
            #expect(try await harness.get("/live/x").status == 200)
            #expect(try await harness.get("/down/x").status == 502)
        }
        try await body(harness, adminPort)
        await harness.shutdown()
        await origin.shutdown()
    }

    @Test("/stats reports hit ratios overall, per tier and per route, tier sizes, latency percentiles, origin errors by kind")
    func statsAfterTraffic() async throws {
        try await Self.withTraffic { harness, adminPort in
            let response = try await fetch(port: adminPort, group: harness.group, path: "/stats")
            #expect(response.status == 200)
            let stats = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            #expect(stats["requests"] as? Int == 13)
            #expect(stats["hits"] as? Int == 6)
            #expect(stats["misses"] as? Int == 5)
            #expect(stats["passes"] as? Int == 2)
            #expect(abs((stats["hit_ratio"] as? Double ?? 0) - 6.0 / 11.0) < 0.001)
            let accessLog = try #require(stats["access_log"] as? [String: Int])
            #expect(accessLog["dropped"] == 0)
            #expect(accessLog["failed"] == 0)
            #expect((0...13).contains(accessLog["written"] ?? -1))

            let origin = try #require(stats["origin"] as? [String: Any])
            #expect(origin["fetches"] as? Int == 7)
            #expect(origin["errors"] as? Int == 2)
            let kinds = try #require(origin["errors_by_kind"] as? [String: Int])
            #expect(kinds["connect"] == 2)
            #expect(kinds["timeout"] == 0 && kinds["protocol"] == 0 && kinds["too_large"] == 0)
            let originLatency = try #require(origin["latency_ms"] as? [String: Any])
            #expect(originLatency["count"] as? Int == 5, "3 fills and 2 passes answered")
            let p50 = try #require(originLatency["p50"] as? Double)
            let p99 = try #require(originLatency["p99"] as? Double)
            #expect(p50 >= 15 && p50 <= 1000, "the origin waits 20 ms")
            #expect(p99 >= p50)
            #expect(stats["coalesced"] as? Int == 0)
            #expect(stats["bans"] as? Int == 0)
            #expect((stats["alerts"] as? [Any])?.isEmpty == true)

            let tiers = try #require(stats["tiers"] as? [String: [String: Any]])
            let l1 = try #require(tiers["l1"])
            #expect(l1["served"] as? Int == 6)
            #expect(l1["entries"] as? Int == 3)
            #expect((l1["bytes"] as? Int ?? 0) > 0)
            #expect(l1["budget_bytes"] as? Int == 8 << 20)
            #expect(l1["hit_ratio"] is Double)
            let latency = try #require(l1["latency_us"] as? [String: Int])
            #expect(Set(latency.keys) == ["p50", "p90", "p99"])
            let l2 = try #require(tiers["l2"])
            #expect(l2["budget_bytes"] as? Int == 64 << 20)
            #expect(l2["latency_us"] is [String: Int])
            #expect(l2["entries"] is Int && l2["bytes"] is Int && l2["hit_ratio"] is Double)

            let routes = try #require(stats["routes"] as? [[String: Any]])
            let byName = Dictionary(uniqueKeysWithValues: routes.map { ($0["name"] as? String ?? "", $0) })
            #expect(Set(byName.keys) == ["users", "down", "live"])
            let users = try #require(byName["users"])
            #expect(users["hits"] as? Int == 6)
            #expect(users["misses"] as? Int == 3)
            #expect(users["requests"] as? Int == 9)
            #expect(abs((users["hit_ratio"] as? Double ?? 0) - 6.0 / 9.0) < 0.001)
            let usersOrigin = try #require(users["origin_latency_ms"] as? [String: Any])
            #expect(usersOrigin["count"] as? Int == 3)
            #expect(byName["live"]?["passes"] as? Int == 2)
            #expect(byName["down"]?["misses"] as? Int == 2)
            #expect(byName["down"]?["hit_ratio"] as? Double == 0)
        }
    }

    @Test("/metrics is valid Prometheus text: typed families, escaped labels, cumulative buckets ending in +Inf = _count")
    func metricsParse() async throws {
        try await Self.withTraffic { harness, adminPort in
            // Two scrapes: the second folds only what changed since the first.
            _ = try await fetch(port: adminPort, group: harness.group, path: "/metrics")
            _ = try await harness.get("/users/1")
            let response = try await fetch(port: adminPort, group: harness.group, path: "/metrics")
            #expect(response.status == 200)
            let exposition = try PrometheusText.parse(response.body)
            #expect(exposition.types["paca_request_duration_seconds"] == "histogram")
            #expect(exposition.types["paca_origin_duration_seconds"] == "histogram")
            #expect(exposition.value("paca_route_requests_total", ["route": "users", "result": "hit"]) == 7)
            #expect(exposition.value("paca_route_requests_total", ["route": "users", "result": "miss"]) == 3)
            #expect(exposition.value("paca_requests_total", [:]) == 14)
            #expect(exposition.value("paca_origin_errors_total", ["result": "connect"]) == 2)
            #expect(exposition.value("paca_tier_served_total", ["tier": "l1"]) == 7)
            #expect(exposition.value("paca_tier_entries", ["tier": "l1"]) == 3)
            #expect(exposition.value("paca_request_duration_seconds_count", ["route": "users"]) == 10)
            #expect(exposition.value("paca_origin_duration_seconds_count", ["route": "users"]) == 3)
            #expect(exposition.value("paca_alert_active", ["alert": "hit_ratio_low"]) == 0)
            // The log's lines: none dropped or lost; those written so far (the writer flushes
            // every 50 ms) at most one per request.
            #expect(exposition.types["paca_access_log_lines_total"] == "counter")
            #expect(exposition.value("paca_access_log_lines_total", ["result": "dropped"]) == 0)
            #expect(exposition.value("paca_access_log_lines_total", ["result": "failed"]) == 0)
            let written = try #require(exposition.value("paca_access_log_lines_total", ["result": "written"]))
            #expect(written >= 0 && written <= 14)
            let labelNames = Set(exposition.samples.flatMap { $0.labels.keys })
            #expect(labelNames.isSubset(of: ["route", "tier", "result", "alert", "le"]), "\(labelNames)")
        }
    }

    @Test("paca stats prints tables from a running proxy's /stats, sending the token from --token-env")
    func statsCommand() async throws {
        let variable = "PACA_TEST_TOKEN_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let environment = [variable: "0123456789abcdef-stats-token"]
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: "x") }
        let config = catchAll(#", "admin": { "listen": "127.0.0.1:0", "token_env": "\#(variable)" }"#)
        let harness = try await ProxyHarness.start(origin: origin, config: config, environment: environment)
        for _ in 0..<4 { _ = try await harness.get("/a") }
        let admin = "http://127.0.0.1:\(try #require(harness.app.adminPort))"

        let run = try await runPaca(["stats", "--admin", admin, "--token-env", variable], in: harness.directory, environment: environment)
        #expect(run.status == 0, "\(run.error)")
        #expect(run.output.contains("requests 4  hit ratio 75.0%  hits 3  misses 1"), "\(run.output)")
        #expect(run.output.contains("origin   fetches 1  errors 0"), "\(run.output)")
        let lines = run.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.contains { $0.first == "l1" && $0.count >= 2 && $0[2] == "3" }, "l1 served 3: \(run.output)")
        #expect(lines.contains { $0.first == "all" && $0[1] == "4" && $0[2] == "75.0%" }, "route all: \(run.output)")
        #expect(run.output.contains("alerts   none"))

        let adminPort = try #require(harness.app.adminPort)
        let page = try await fetch(port: adminPort, group: harness.group, path: "/dashboard")
        #expect(page.status == 200, "the static page loads without the token")
        #expect(page.body.contains("sessionStorage") && page.body.contains("Authorization") && !page.body.contains("src=\"http"))
        #expect(try await fetch(port: adminPort, group: harness.group, path: "/stats").status == 401)

        let refused = try await runPaca(["stats", "--admin", admin, "--token-env", variable + "_UNSET"], in: harness.directory)
        #expect(refused.status == 1)
        #expect(refused.error.contains("401"), "\(refused.error)")
        let nothing = try await runPaca(["stats", "--admin", "http://127.0.0.1:1"], in: harness.directory)
        #expect(nothing.status == 1)
        #expect(nothing.error.hasPrefix("paca: cannot connect to the admin API at http://127.0.0.1:1"), "\(nothing.error)")
        await harness.shutdown()
        await origin.shutdown()
    }

    @Test("the parser refuses what Prometheus would")
    func parserRefuses() {
        let bad = [
            "no_type 1\n",
            "# TYPE m counter\nm{a=\"x} 1\n",
            "# TYPE m counter\nm{a=\"x\\q\"} 1\n",
            "# TYPE 9m counter\n9m 1\n",
            "# TYPE m counter\nm one\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 3\nh_sum 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n",
        ]
        for text in bad { #expect(throws: PrometheusText.Invalid.self, "\(text)") { try PrometheusText.parse(text) } }
        #expect(throws: Never.self) {
            try PrometheusText.parse("# HELP m a help\n# TYPE m gauge\nm{a=\"q\\\"\\\\\\n\"} -1.5e3\n")
        }
    }
}
