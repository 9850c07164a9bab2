import Foundation
import PacaTestSupport
import Testing

/// The repository's root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A paca JSON access log of `count` GET lines over two routes with skewed popularity (and two
/// POST lines, which replay skips), timestamped 10 ms apart.
private func generatedLog(count: Int) -> String {
    var lines: [String] = []
    var state: UInt64 = 42
    for index in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        // Squaring a uniform draw skews it toward small ids: a few hot objects, a long tail.
        let uniform = Double(state >> 11) / Double(1 << 53)
        let id = Int(uniform * uniform * 60)
        let (route, path) = id % 3 == 0 ? ("items", "/items/\(id)") : ("users", "/api/users/\(id)?page=1")
        let seconds = String(format: "%02d.%03d", (index * 10) / 1000 % 60, (index * 10) % 1000)
        lines.append(
            #"{"ts":"2025-01-15T12:00:\#(seconds)Z","method":"GET","host":"example.com","url":"\#(path)","route":"\#(route)","status":200,"bytes":10,"cache":"miss","tier":null,"ttl":60,"collapsed":false,"key":"k","ms":1.0,"client":"10.0.0.1"}"#
        )
        if index == count / 2 || index == count / 3 {
            lines.append(
                #"{"ts":"2025-01-15T12:00:\#(seconds)Z","method":"POST","host":"example.com","url":"/api/users","route":"users","status":201,"bytes":2,"cache":"pass","tier":null,"ttl":null,"collapsed":false,"key":"k","ms":1.0,"client":"10.0.0.1"}"#
            )
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

@Suite("paca replay")
struct ReplayCommandTests {
    @Test("a closed-loop replay against a real paca reports a hit ratio of exactly 1 − origin fetches / requests; --json and --compare")
    func closedLoopHitRatio() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(headers: [("Cache-Control", "public, max-age=60")], body: "body of \(seen.uri)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        let directory = proxy.directory
        let log = directory + "/access.log"
        try generatedLog(count: 300).write(toFile: log, atomically: true, encoding: .utf8)
        let target = "http://127.0.0.1:\(proxy.port)"

        let first = try await runPaca(
            ["replay", log, "--target", target, "--concurrency", "4", "--json", directory + "/a.json", "--html", directory + "/a.html"],
            in: repositoryRoot)
        let fetches = origin.requestCount
        #expect(first.status == 0, "stderr: \(first.error)")
        let a = try readJSON(directory + "/a.json")
        #expect(a["requests"] as? Int == 300)
        #expect(a["errors"] as? Int == 0)
        let outcomes = try #require(a["outcomes"] as? [String: Int])
        #expect(outcomes["miss"] == fetches && fetches > 0 && fetches < 60)
        let hitRatio = try #require(a["hit_ratio"] as? Double)
        #expect(abs(hitRatio - (1 - Double(fetches) / 300)) < 1e-12)
        #expect(Int((hitRatio * 300).rounded()) == 300 - fetches)
        #expect((a["byte_hit_ratio"] as? Double).map { $0 > 0 && $0 < 1 } == true)
        let latency = try #require(a["latency_ms"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p90", "p99", "p999", "max"])
        #expect(latency["p50"]! <= latency["p99"]! && latency["p99"]! <= latency["max"]! && latency["max"]! > 0)
        let routes = try #require(a["routes"] as? [String: [String: Any]])
        #expect(Set(routes.keys) == ["users", "items"])
        #expect(routes.values.compactMap { $0["requests"] as? Int }.reduce(0, +) == 300)
        #expect(first.output.contains("300 requests to \(target)"))
        let html = try String(contentsOfFile: directory + "/a.html", encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.components(separatedBy: "<svg").count == 3 && !html.contains("<script"))

        // The second run finds everything cached.
        let second = try await runPaca(
            ["replay", log, "--target", target, "--concurrency", "2", "--limit", "100", "--json", directory + "/b.json"],
            in: repositoryRoot)
        #expect(second.status == 0, "stderr: \(second.error)")
        #expect(origin.requestCount == fetches)
        let b = try readJSON(directory + "/b.json")
        #expect(b["requests"] as? Int == 100 && b["hit_ratio"] as? Double == 1)

        let compared = try await runPaca(["replay", "--compare", directory + "/a.json", directory + "/b.json"], in: repositoryRoot)
        #expect(compared.status == 0, "stderr: \(compared.error)")
        let hitLine = try #require(compared.output.split(separator: "\n").first { $0.hasPrefix("hit ratio") })
        let expectedDifference = String(format: "+%.1f pp", (1 - hitRatio) * 100)
        #expect(hitLine.contains("100.0%") && hitLine.hasSuffix(expectedDifference), "\(hitLine)")
        #expect(compared.output.contains("users: hit ratio") && compared.output.contains("items: p99"))

        await proxy.shutdown()
        await origin.shutdown()
    }

    @Test("bad arguments exit 2 and an unreachable target exits 1, each with one line on stderr")
    func errors() async throws {
        let directory = NSTemporaryDirectory() + "paca-replay-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/access.log"
        try generatedLog(count: 5).write(toFile: log, atomically: true, encoding: .utf8)

        let noTarget = try await runPaca(["replay", log], in: repositoryRoot)
        #expect(noTarget.status == 2 && noTarget.error.split(separator: "\n").count == 1)
        let twoPacings = try await runPaca(
            ["replay", log, "--target", "http://127.0.0.1:1", "--rate", "5", "--concurrency", "2"], in: repositoryRoot)
        #expect(twoPacings.status == 2 && twoPacings.error == "paca: use one of --speed, --rate and --concurrency\n")
        let missing = try await runPaca(["replay", directory + "/none.log", "--target", "http://127.0.0.1:1"], in: repositoryRoot)
        #expect(missing.status == 1 && missing.error.split(separator: "\n").count == 1)
        let badCompare = try await runPaca(["replay", "--compare", log, log], in: repositoryRoot)
        #expect(badCompare.status == 1 && badCompare.error.contains("not a paca replay report"))

        let closed = ClosedPort()
        let port = closed.port
        let unreachable = try await runPaca(
            ["replay", log, "--target", "http://127.0.0.1:\(port)", "--concurrency", "2", "--json", directory + "/r.json"],
            in: repositoryRoot)
        #expect(unreachable.status == 1)
        #expect(unreachable.error == "paca: no answer from http://127.0.0.1:\(port): every request failed\n")
        let report = try readJSON(directory + "/r.json")
        #expect((report["errors_by_kind"] as? [String: Int])?["connect"] == 5)
        withExtendedLifetime(closed) {}
    }

    private func readJSON(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
