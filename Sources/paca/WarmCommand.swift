import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import PacaAccessLog
import PacaApp
import PacaCore
import PacaEngine
import PacaReplay
import PacaUpstream
import PacaWarming

/// `paca warm`: learns what is hot from a log and ranks the URLs most likely to be requested
/// soon; with `--target` it sends them as GETs, within `--max-rps`. A running proxy with
/// `prewarm.enabled` warms on its own (and on `POST /prewarm`).
struct WarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Rank the URLs a log predicts will be requested next, with the reasons.",
        discussion: """
            Feeds LOG (paca's JSON access log, nginx/Apache combined, nginx main or a trace; .gz \
            read directly) into the popularity and sequence models, keyed as the proxy keys it \
            (with --config, by its routes), and prints the --top URLs predicted for the --window \
            after --at (default: the log's last request), with the score's components and the \
            URLs that usually follow. With --target instead of --dry-run, the ranked URLs are sent \
            as GETs to that base URL (a running paca), one at a time within --max-rps.
            """)

    @Option(help: "The log to learn from (plain or .gz); default: the config's access log.")
    var from: String?

    @Option(help: "routes.json: key by its routes; its access log is the default --from.")
    var config: String?

    @Option(help: "The log format: json, combined, main or trace (default: detected).")
    var format: String?

    @Option(help: "How many URLs to rank (default: the config's prewarm.top, else 20).")
    var top: Int?

    @Option(help: "The time to predict for: RFC 3339 (2024-01-08T08:50:00Z) or Unix milliseconds (default: the log's last request).")
    var at: String?

    @Option(help: "How far ahead to predict (default 10m).")
    var window = "10m"

    @Option(help: "The most URLs the model tracks (default 10000).")
    var capacity = 10_000

    @Option(help: "Save the learned model to this file (written atomically).")
    var save: String?

    @Flag(name: .customLong("dry-run"), help: "Print what would be warmed and why; send nothing.")
    var dryRun = false

    @Option(help: "Send the ranked URLs as GETs to this base URL (a running paca, http://127.0.0.1:8080).")
    var target: String?

    @Option(name: .customLong("max-rps"), help: "The most warming requests per second (default: the config's prewarm.max_rps, else 20).")
    var maxRPS: Double?

    func run() async throws {
        var routes: RouteTable?
        var log = from
        var topDefault = 20
        var rateDefault = 20.0
        if let config {
            let configuration = try loadConfiguration(config)
            routes = RouteTable(configuration.routes)
            if log == nil { log = configuration.accessLogPath }
            topDefault = configuration.prewarm.top
            rateDefault = Double(configuration.prewarm.maxRequestsPerSecond)
        }
        guard let log else {
            printError("no log: give --from LOG (or --config with an access_log)")
            throw ExitCode(2)
        }
        let count = top ?? topDefault
        guard count >= 1, capacity >= 1 else {
            printError("--top and --capacity must be at least 1")
            throw ExitCode(2)
        }
        guard let windowDuration = HumanUnits.parseDuration(window), windowDuration > .zero else {
            printError("--window: not a duration: \(window) (use ms, s, m, h or d)")
            throw ExitCode(2)
        }
        let windowMillis = windowDuration.components.seconds * 1000 + windowDuration.components.attoseconds / 1_000_000_000_000_000
        let requestedTime = try at.map { try Self.time($0) }
        guard dryRun || target != nil else {
            printError(
                "say what to do: --dry-run to see what would be warmed, or --target URL to send it now; a running paca with "
                    + "prewarm.enabled warms on its own (POST /prewarm on its admin API warms now)")
            throw ExitCode(2)
        }
        if let target, !dryRun {
            guard let url = URL(string: target), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil
            else {
                printError("--target: expected a base URL such as http://127.0.0.1:8080")
                throw ExitCode(2)
            }
        }
        let rate = maxRPS ?? rateDefault
        guard rate > 0, rate.isFinite else {
            printError("--max-rps must be above 0")
            throw ExitCode(2)
        }
        let logFormat = try format.map { try Self.format($0) }

        let reader: LogReader
        do {
            reader = try LogReader(path: log, format: logFormat)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let keying = SimulationKeying(routes: routes)
        var model = WarmingModel(popularity: .init(capacity: capacity))
        var requests = 0
        var untimed = 0
        var lastTime: UnixMillis?
        let report: LogReadReport
        do {
            report = try reader.forEach { request in
                guard case .cacheable(let key, _) = keying.decide(request) else { return }
                guard let time = request.timestamp else {
                    untimed += 1
                    return
                }
                requests += 1
                lastTime = max(lastTime ?? time, time)
                model.observe(key, at: time, url: request.url)
            }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        guard let time = requestedTime ?? lastTime else {
            printError("\(log): no timed cacheable request to learn from")
            throw ExitCode(1)
        }
        if let save {
            do {
                try model.save(to: save, savedAt: time)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }

        print(
            "\(log): \(reader.format.rawValue), \(report.lines) lines, \(requests) timed cacheable requests, "
                + "\(model.popularity.keys.count) URLs tracked" + (untimed > 0 ? ", \(untimed) without a time skipped" : ""))
        let sending = !dryRun ? target : nil
        print("top \(count) for the \(window) after \(Self.formatTime(time))" + (sending == nil ? " (dry run: nothing sent)" : ""))
        print(
            Self.pad("rank", 5) + Self.pad("score", 9) + Self.pad("short", 9) + Self.pad("long", 9) + Self.pad("last", 8)
                + Self.pad("season", 8) + "  url")
        let ranked = model.popularity.top(count, at: time, within: windowMillis)
        for (rank, prediction) in ranked.enumerated() {
            print(
                Self.pad(String(rank + 1), 5) + Self.pad(Self.decimal(prediction.score), 9)
                    + Self.pad(Self.decimal(prediction.shortTermCount), 9) + Self.pad(Self.decimal(prediction.longTermCount), 9)
                    + Self.pad(Self.age(prediction.recency), 8) + Self.pad(String(format: "×%.2f", prediction.seasonality), 8)
                    + "  " + (prediction.url ?? prediction.key))
            let followers = model.followers(of: prediction.key, minimumLift: 2).filter { $0.probability >= 0.1 }.prefix(3)
            if !followers.isEmpty {
                let list = followers.map {
                    let lift = $0.lift.isFinite ? String(format: ", ×%.1f", $0.lift) : ""
                    return "\(model.popularity.keys[$0.key]?.url ?? $0.key) (\(Int(($0.probability * 100).rounded()))%\(lift))"
                }
                print(String(repeating: " ", count: 55) + "then " + list.joined(separator: ", "))
            }
        }
        print("score: predicted requests in the window; short/long: requests decayed with 5m/6h half-lives;")
        print("last: time since the latest request; season: the hour-of-week factor (×1.00: no pattern);")
        print("then: URLs requested within 5s after it (probability, times more often than by chance)")
        if let sending { try await send(ranked.compactMap(\.url), to: sending, rate: rate) }
    }

    /// GETs each URL from `base`, one at a time, at most `rate` a second; prints the statuses.
    /// Exits 1 when every request failed.
    private func send(_ urls: [String], to base: String, rate: Double) async throws {
        let base = base.hasSuffix("/") ? String(base.dropLast()) : base
        let client = CurlOriginClient()
        defer { client.shutdown() }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let clock = ContinuousClock()
        let start = clock.now
        func elapsedMillis() -> Int64 {
            let elapsed = clock.now - start
            return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        }
        var bucket = TokenBucket(ratePerSecond: rate, now: 0)
        var statuses: [Int: Int] = [:]
        var failures = 0
        var firstFailure: String?
        for url in urls {
            let sendAt = bucket.reserve(at: elapsedMillis())
            try await Task.sleep(until: start + .milliseconds(sendAt), clock: clock)
            let absolute = base + (url.hasPrefix("/") ? url : "/" + url)
            do {
                let response = try await client.fetch(OriginRequest(method: "GET", url: absolute), on: eventLoop).get()
                statuses[response.status, default: 0] += 1
            } catch {
                failures += 1
                if firstFailure == nil { firstFailure = "\(absolute): \(error)" }
            }
        }
        let seconds = Double(elapsedMillis()) / 1000
        let counts = statuses.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
        print(
            "warmed \(urls.count) URLs through \(base) in " + String(format: "%.1f s", seconds) + " (at most "
                + String(format: "%g", rate) + "/s): " + (counts + (failures > 0 ? ["failed ×\(failures)"] : [])).joined(separator: ", "))
        if let firstFailure, failures == urls.count, !urls.isEmpty {
            printError("no answer from \(base): \(firstFailure)")
            throw ExitCode(1)
        }
    }

    /// Unix milliseconds, or an RFC 3339 time with or without fractional seconds.
    static func time(_ text: String) throws -> UnixMillis {
        if let millis = Int64(text), millis >= 0 { return millis }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime]
            date = formatter.date(from: text)
        }
        guard let date else {
            printError("--at: not a time: \(text) (use RFC 3339, like 2024-01-08T08:50:00Z, or Unix milliseconds)")
            throw ExitCode(2)
        }
        return UnixMillis((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func formatTime(_ millis: UnixMillis) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    private static func format(_ text: String) throws -> LogFormat {
        guard let format = LogFormat(rawValue: text) else {
            printError("--format: not a format: \(text) (use json, combined, main or trace)")
            throw ExitCode(2)
        }
        return format
    }

    private static func decimal(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }

    private static func age(_ millis: Int64) -> String {
        switch millis {
        case ..<60_000: "\(millis / 1000)s"
        case ..<3_600_000: "\(millis / 60_000)m"
        case ..<86_400_000: "\(millis / 3_600_000)h"
        default: "\(millis / 86_400_000)d"
        }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : String(repeating: " ", count: width - text.count) + text
    }
}
