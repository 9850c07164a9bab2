import ArgumentParser
import Foundation
import NIOPosix
import PacaAccessLog
import PacaCore
import PacaReplay
import PacaUpstream

/// `paca replay`: sends a log's GET and HEAD requests to a running cache and reports what it did
/// with them; `--compare` prints two runs' JSON reports side by side.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay an access log against a cache; report hit ratios and latencies.",
        discussion: """
            LOG is paca's JSON access log, nginx/Apache combined, nginx main with $request_time, or a \
            plain trace (.gz read directly). Each GET/HEAD line is sent to --target with the logged \
            path and query. Pacing is one of --speed (the log's own timing, scaled; the default for \
            logs with timestamps), --rate (open loop) or --concurrency (closed loop; the default, 8, \
            for plain traces). Hits are read from each answer's Cache-Status.
            """)

    @Argument(help: "The log to replay (plain or .gz).")
    var log: String?

    @Option(help: "The base URL of the cache to replay against, such as http://127.0.0.1:8080.")
    var target: String?

    @Option(help: "Replay the log's own timing, scaled by this factor (2 = twice as fast).")
    var speed: Double?

    @Option(help: "Open loop: send this many requests per second.")
    var rate: Double?

    @Option(help: "Closed loop: keep this many requests in flight.")
    var concurrency: Int?

    @Option(help: "Stop after this many requests.")
    var limit: Int?

    @Option(help: "Stop sending after this long (30s, 5m).")
    var duration: String?

    @Option(help: "The limit of one exchange.")
    var timeout = "30s"

    @Option(help: "The log format: json, combined, main or trace (default: detected).")
    var format: String?

    @Option(help: "Write the report as JSON to this file.")
    var json: String?

    @Option(help: "Write a self-contained HTML report with charts to this file.")
    var html: String?

    @Option(parsing: .upToNextOption, help: "Compare two JSON reports: --compare A.json B.json.")
    var compare: [String] = []

    func run() async throws {
        if !compare.isEmpty { return try runComparison() }
        guard let log else { return try fail("a LOG to replay is needed (or --compare A.json B.json)", code: 2) }
        guard let target, let scheme = URL(string: target)?.scheme, ["http", "https"].contains(scheme.lowercased()),
            URL(string: target)?.host != nil
        else { return try fail("--target: expected a base URL such as http://127.0.0.1:8080", code: 2) }
        let pacings = [speed.map { ReplayPacing.speed($0) }, rate.map { .rate($0) }, concurrency.map { .concurrency($0) }]
            .compactMap { $0 }
        guard pacings.count <= 1 else { return try fail("use one of --speed, --rate and --concurrency", code: 2) }
        if let speed, !(speed > 0 && speed.isFinite) { return try fail("--speed must be above 0", code: 2) }
        if let rate, !(rate > 0 && rate.isFinite) { return try fail("--rate must be above 0", code: 2) }
        if let concurrency, concurrency < 1 { return try fail("--concurrency must be at least 1", code: 2) }
        if let limit, limit < 1 { return try fail("--limit must be at least 1", code: 2) }
        let runFor = try duration.map { try Self.duration($0, option: "--duration") }
        let exchangeTimeout = try Self.duration(timeout, option: "--timeout")
        let logFormat: LogFormat?
        if let format {
            guard let parsed = LogFormat(rawValue: format) else {
                return try fail("--format: not a format: \(format) (use json, combined, main or trace)", code: 2)
            }
            logFormat = parsed
        } else {
            logFormat = nil
        }

        let reader: LogReader
        do {
            reader = try LogReader(path: log, format: logFormat)
        } catch {
            return try fail("\(error)", code: 1)
        }
        let pacing = pacings.first ?? (reader.format == .trace ? .concurrency(8) : .speed(1))
        let client = CurlOriginClient()
        defer { client.shutdown() }
        let runner = ReplayRunner(
            configuration: .init(target: target, pacing: pacing, limit: limit, duration: runFor, timeout: exchangeTimeout),
            client: client, eventLoops: MultiThreadedEventLoopGroup.singleton)
        let window = LogRequestWindow(reader: reader)
        let display = ReplayProgressDisplay(runner: runner, limit: limit)
        let progress = Task { await display.run() }
        let result: (tally: ReplayTally, seconds: Double)
        do {
            result = try await runner.run(window)
        } catch {
            progress.cancel()
            await progress.value
            return try fail("\(error)", code: 1)
        }
        progress.cancel()
        await progress.value
        let malformed = window.readReport()?.malformed ?? 0
        let report = ReplayReport(
            log: log, target: target, pacing: pacing, tally: result.tally, seconds: result.seconds, malformedLines: malformed)
        print(ReplayTable.render(report))
        if let json { try write(try report.jsonData(), to: json) }
        if let html {
            try write(Data(ReplayHTMLReport.render(report, latencies: result.tally.total.latency.samples).utf8), to: html)
        }
        if report.total.requests > 0, result.tally.total.answers == 0 {
            return try fail("no answer from \(target): every request failed", code: 1)
        }
    }

    private func runComparison() throws {
        guard compare.count == 2 else { return try fail("--compare takes two JSON reports: --compare A.json B.json", code: 2) }
        var reports: [ReplayReport] = []
        for path in compare {
            do {
                reports.append(try ReplayReport.decode(Data(contentsOf: URL(fileURLWithPath: path))))
            } catch let error as DecodingError {
                return try fail("\(path): not a paca replay report (\(Self.describe(error)))", code: 1)
            } catch {
                return try fail("cannot read \(path): \(error.localizedDescription)", code: 1)
            }
        }
        print(ReplayComparison.render(reports[0], reports[1], names: (compare[0], compare[1])))
    }

    private func fail(_ message: String, code: Int32) throws {
        printError(message)
        throw ExitCode(code)
    }

    private func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            try fail("cannot write \(path): \(error.localizedDescription)", code: 1)
        }
    }

    private static func duration(_ text: String, option: String) throws -> Duration {
        guard let value = HumanUnits.parseDuration(text), value > .zero else {
            printError("\(option): expected a duration such as 500ms, 30s or 5m, got \"\(text)\"")
            throw ExitCode(2)
        }
        return value
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath.isEmpty ? context.debugDescription : "at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        @unknown default: "unreadable"
        }
    }
}

/// Redraws one progress line on a terminal; prints a plain line every 5 s otherwise.
struct ReplayProgressDisplay: Sendable {
    let runner: ReplayRunner
    let limit: Int?
    let terminal = isatty(1) == 1

    func run() async {
        let interval: Duration = terminal ? .milliseconds(200) : .seconds(5)
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            draw(final: false)
        }
        if terminal { draw(final: true) }
    }

    private func draw(final: Bool) {
        let progress = runner.progress
        let counts =
            "\(progress.finished) requests, hit \(ReplayTable.percent(progress.hitRatio)), \(progress.errors) errors, "
            + String(format: "%.1f s", progress.elapsed)
        guard terminal else {
            print("replay: " + counts)
            fflush(nil)
            return
        }
        var bar = ""
        if let limit {
            let width = 30
            let filled = min(width, progress.finished * width / max(1, limit))
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        print("\r\u{1B}[2K" + bar + counts, terminator: final ? "\n" : "")
        fflush(nil)
    }
}
