import Foundation
import Testing

/// The repository's root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite("paca simulate")
struct SimulateCommandTests {
    @Test("simulate runs on the committed sample with routes.json and writes the documented JSON and an SVG")
    func sampleCurve() async throws {
        let output = NSTemporaryDirectory() + "paca-simulate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try await runPaca(
            [
                "simulate", "fixtures/access.log.gz", "--config", "routes.json", "--sizes", "64KB,256KB,1MB,4MB",
                "--policies", "lru,tinylfu", "--advise", "--json", output + "/curve.json", "--svg", output + "/curve.svg",
            ], in: repositoryRoot)
        #expect(result.status == 0, "stderr: \(result.error)")
        #expect(result.output.contains("50000 requests"))
        #expect(result.output.contains("advice (lru): L1 "))
        let data = try Data(contentsOf: URL(fileURLWithPath: output + "/curve.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["requests"] as? Int == 50_000)
        #expect(object["malformed_lines"] as? Int == 0)
        let rows = try #require(object["results"] as? [[String: Any]])
        #expect(rows.map { $0["policy"] as? String } == ["lru", "lru", "lru", "lru", "tinylfu", "tinylfu", "tinylfu", "tinylfu"])
        #expect(rows.map { $0["size_bytes"] as? Int } == [65_536, 262_144, 1 << 20, 4 << 20, 65_536, 262_144, 1 << 20, 4 << 20])
        let lru = rows.prefix(4).compactMap { $0["object_hit_ratio"] as? Double }
        // The sample holds about 2 MB of distinct objects: the curve rises, and 4 MB holds it all.
        #expect(lru.count == 4 && lru == lru.sorted() && lru[0] > 0.3 && lru[3] > 0.75 && lru[3] < 1)
        #expect(rows.allSatisfy { ($0["byte_hit_ratio"] as? Double).map { (0...1).contains($0) } ?? false })
        let svg = try String(contentsOfFile: output + "/curve.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("tinylfu") && svg.hasSuffix("</svg>\n"))
    }

    @Test("a bad policy exits 2 and a missing log exits 1, each with one line")
    func badArguments() async throws {
        let badPolicy = try await runPaca(["simulate", "fixtures/access.log.gz", "--policy", "random"], in: repositoryRoot)
        #expect(badPolicy.status == 2)
        #expect(badPolicy.error.split(separator: "\n").count == 1 && badPolicy.error.contains("random"))
        let missing = try await runPaca(["simulate", "/nonexistent/access.log"], in: repositoryRoot)
        #expect(missing.status == 1)
        #expect(missing.error == "paca: cannot read /nonexistent/access.log: No such file or directory\n")
    }
}
