import Foundation
import PacaTestSupport
import Testing

@Suite("paca warm")
struct WarmCommandTests {
    /// Three days of a combined log: /daily ten times at 09:00, /flat every two hours, and
    /// /page followed a second later by /page.css, among 100 URLs requested once a day.
    static func writeLog() throws -> String {
        let directory = NSTemporaryDirectory() + "paca-warm-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lines: [(Int, String)] = []
        for day in 1...3 {
            let base = day * 86_400
            for i in 0..<10 { lines.append((base + 9 * 3600 + i * 10, "/daily")) }
            for i in 0..<100 { lines.append((base + i * 860 + 7, "/item/\(day * 100 + i)")) }
            for i in 0..<12 {
                lines.append((base + i * 7200 + 1800, "/flat"))
                lines.append((base + i * 7200 + 1900, "/page"))
                lines.append((base + i * 7200 + 1901, "/page.css"))
            }
        }
        lines.sort { $0.0 < $1.0 }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss Z"
        // 2024-01-07 00:00 UTC is day 0.
        let start = 1_704_585_600.0
        let text = lines.map { second, url in
            let time = formatter.string(from: Date(timeIntervalSince1970: start + Double(second)))
            return "127.0.0.1 - - [\(time)] \"GET \(url) HTTP/1.1\" 200 100 \"-\" \"test\""
        }.joined(separator: "\n")
        try (text + "\n").write(toFile: directory + "/access.log", atomically: true, encoding: .utf8)
        return directory
    }

    @Test("warm --dry-run ranks the daily URL first just before 09:00 and shows the follower of /page")
    func dryRun() async throws {
        let directory = try Self.writeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runPaca(
            [
                "warm", "--from", "access.log", "--dry-run", "--top", "10", "--at", "2024-01-11T08:50:00Z", "--window", "30m", "--save",
                "model.json",
            ],
            in: directory)
        #expect(result.status == 0, "stderr: \(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("combined, 438 lines, 438 timed cacheable requests, 304 URLs tracked") == true, "\(result.output)")
        let ranked = lines.filter { $0.hasPrefix("    1 ") || $0.hasPrefix("    2 ") || $0.hasPrefix("    3 ") }
        #expect(ranked.count == 3, "\(result.output)")
        #expect(ranked.first?.hasSuffix("  /daily") == true, "\(result.output)")
        #expect(result.output.contains("then /page.css (100%, ×"), "\(result.output)")
        #expect(FileManager.default.fileExists(atPath: directory + "/model.json"))

        let night = try await runPaca(
            ["warm", "--from", "access.log", "--dry-run", "--top", "1", "--at", "2024-01-11T03:00:00Z"], in: directory)
        #expect(night.status == 0)
        #expect(!night.output.contains("/daily"), "\(night.output)")
    }

    @Test("warm --target sends the ranked URLs as GETs to the target, the daily one first")
    func target() async throws {
        let directory = try Self.writeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "warm") }
        let result = try await runPaca(
            [
                "warm", "--from", "access.log", "--top", "3", "--at", "2024-01-11T08:50:00Z", "--window", "30m", "--target", origin.url,
                "--max-rps", "100",
            ],
            in: directory)
        await origin.shutdown()
        #expect(result.status == 0, "stderr: \(result.error)")
        #expect(origin.requests.map(\.method) == ["GET", "GET", "GET"])
        #expect(origin.requests.first?.uri == "/daily")
        #expect(result.output.contains("warmed 3 URLs through \(origin.url) in "), "\(result.output)")
        #expect(result.output.contains("(at most 100/s): 200 ×3"), "\(result.output)")
        #expect(!result.output.contains("dry run"))

        let refused = try await runPaca(["warm", "--from", "access.log", "--target", "ftp://x"], in: directory)
        #expect(refused.status == 2 && refused.error.contains("--target: expected a base URL"))
    }

    @Test("warm without --dry-run or --target says prewarming is not in this build and exits 2; a bad --at exits 2")
    func notYet() async throws {
        let directory = try Self.writeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runPaca(["warm", "--from", "access.log"], in: directory)
        #expect(result.status == 2)
        #expect(result.error.contains("--dry-run") && result.error.split(separator: "\n").count == 1)
        let badTime = try await runPaca(["warm", "--from", "access.log", "--dry-run", "--at", "tomorrow"], in: directory)
        #expect(badTime.status == 2 && badTime.error.contains("--at: not a time"))
    }
}
