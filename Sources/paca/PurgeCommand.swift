import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import PacaApp

/// `paca purge`: a thin client of `POST /purge` on the admin API.
struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Purge cached entries through the admin API.",
        discussion: """
            PATTERN is the routes.json match glob over path?query ("/api/users/*"). Or name a tag,
            a URL (every variant of it) or a regex instead. Entries are removed from L1 and L2 at
            once and dropped from L3 (and other nodes) when next read.
            """)

    @Argument(help: "A glob over path?query, such as \"/api/users/*\".")
    var pattern: String?

    @Option(help: "Purge the entries stored with this Surrogate-Key / Cache-Tag.")
    var tag: String?

    @Option(help: "Purge every variant of this URL (a path or http:// URL).")
    var url: String?

    @Option(help: "Purge entries whose path?query matches this regex (anchored).")
    var regex: String?

    @Flag(help: "Mark entries stale instead of removing them (they are revalidated on next use).")
    var soft = false

    @Flag(name: .customLong("dry-run"), help: "Only count what would be purged.")
    var dryRun = false

    @Option(help: "The admin API.")
    var admin = "http://127.0.0.1:9090"

    @Option(name: .customLong("token-env"), help: "Environment variable holding the admin token.")
    var tokenEnv = "PACA_ADMIN_TOKEN"

    func run() async throws {
        var body: [String: Any] = [:]
        let given = [("pattern", pattern), ("tag", tag), ("url", url), ("regex", regex)].filter { $0.1 != nil }
        guard given.count == 1, let (name, value) = given.first, let value else {
            printError("give exactly one of PATTERN, --tag, --url, --regex")
            throw ExitCode(64)
        }
        body[name] = value
        if soft { body["soft"] = true }
        if dryRun { body["dry_run"] = true }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let token = ProcessInfo.processInfo.environment[tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        let response: AdminClient.Response
        do {
            response = try await AdminClient.request(
                "POST", base: admin, path: "/purge", token: token, body: String(decoding: data, as: UTF8.self),
                group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        guard response.status == 200 else {
            printError("purge refused (\(response.status)): \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))")
            throw ExitCode(1)
        }
        guard let report = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] else {
            print(response.body)
            return
        }
        let tiers = (report["tiers"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let onRead = (report["on_read"] as? [String] ?? [])
        let verb = dryRun ? "would purge" : soft ? "marked stale" : "purged"
        var line = "\(verb): \(tiers.joined(separator: ", "))"
        if !onRead.isEmpty { line += "; \(onRead.joined(separator: ", ")) when next read" }
        print(line)
    }
}
