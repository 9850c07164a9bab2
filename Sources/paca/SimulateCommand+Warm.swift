import ArgumentParser
import Foundation
import PacaAccessLog
import PacaCore
import PacaEngine
import PacaReplay
import PacaStorage
import PacaWarming

/// `paca simulate --warm`: the same log replayed at one L1 size without and with the planner.
extension SimulateCommand {
    func runWarming(routes: RouteTable?, l1Bytes: Int, policy: EvictionPolicy) throws {
        var planner = WarmingPlanner.Configuration()
        if let maxRPS {
            guard maxRPS > 0 else { return try fail("--max-rps must be positive") }
            planner.maxRequestsPerSecond = maxRPS
        }
        if let top {
            guard top > 0 else { return try fail("--top must be positive") }
            planner.top = top
        }
        if let minProbability {
            guard minProbability > 0, minProbability <= 1 else { return try fail("--min-probability must be in (0, 1]") }
            planner.minimumProbability = minProbability
        }
        var trainingMillis: Int64 = 86_400_000
        if let training {
            guard let duration = HumanUnits.parseDuration(training) else { return try fail("--training: not a duration: \(training)") }
            trainingMillis = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        }
        let reader: LogReader
        do {
            reader = try LogReader(path: log, format: try format.map { try Self.format($0) })
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let simulations = [false, true].map { warming in
            var options = WarmingSimulation.Options(l1Bytes: l1Bytes, warming: warming)
            options.policy = policy
            options.shardCount = shards
            options.planner = planner
            options.trainingMillis = trainingMillis
            return WarmingSimulation(options: options)
        }
        let keying = SimulationKeying(routes: routes)
        let started = ContinuousClock.now
        let readReport: LogReadReport
        do {
            readReport = try reader.forEach { request in
                for simulation in simulations { simulation.record(request, keying: keying) }
            }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        for simulation in simulations { simulation.finish() }
        let elapsed = ContinuousClock.now - started
        let (off, on) = (simulations[0], simulations[1])
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "\(log): \(readReport.lines) lines, \(off.total.requests) cacheable requests, L1 \(HumanUnits.formatBytes(l1Bytes)) "
                + "\(policy.rawValue); warming max \(planner.maxRequestsPerSecond) req/s, top \(planner.top), "
                + "min probability \(planner.minimumProbability); \(String(format: "%.1f", seconds)) s")
        let trainingLabel = "first " + String(format: "%g h", Double(trainingMillis) / 3_600_000)
        for (label, offCounts, onCounts) in [
            ("after the training period (\(trainingLabel) learns, counted apart)", off.measured, on.measured),
            ("training period (\(trainingLabel))", off.training, on.training),
            ("whole log", off.total, on.total),
        ] where offCounts.requests > 0 {
            print("")
            print(label + ":")
            print(Self.table(off: offCounts, on: onCounts))
        }
        if let json {
            let document = WarmingComparison(
                log: log, l1Bytes: l1Bytes, policy: policy.rawValue, maxRequestsPerSecond: planner.maxRequestsPerSecond,
                top: planner.top, minimumProbability: planner.minimumProbability, trainingMillis: trainingMillis,
                measured: .init(off: off.measured, on: on.measured), training: .init(off: off.training, on: on.training),
                whole: .init(off: off.total, on: on.total))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                try encoder.encode(document).write(to: URL(fileURLWithPath: json))
            } catch {
                printError("cannot write \(json): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        }
    }

    private func fail(_ message: String) throws {
        printError(message)
        throw ExitCode(2)
    }

    /// The off/on table of one period.
    static func table(off: WarmingSimulation.Counts, on: WarmingSimulation.Counts) -> String {
        func percent(_ value: Double?) -> String { value.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
        func row(_ name: String, _ a: String, _ b: String) -> String {
            name.padding(toLength: 34, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 12 - a.count)) + a
                + String(repeating: " ", count: max(0, 12 - b.count)) + b
        }
        let uplift = (on.hitRatio - off.hitRatio) * 100
        var lines = [
            row("", "warming off", "warming on"),
            row("requests", "\(off.requests)", "\(on.requests)"),
            row("hit ratio", percent(off.hitRatio), percent(on.hitRatio)),
            row("client origin requests (misses)", "\(off.clientOriginRequests)", "\(on.clientOriginRequests)"),
            row("warming origin requests", "\(off.warmingOriginRequests)", "\(on.warmingOriginRequests)"),
            row("total origin requests", "\(off.originRequests)", "\(on.originRequests)"),
            row("warming share of origin requests", "-", percent(on.warmingShare)),
            row("warmed entries", "-", "\(on.warming.warmed)"),
            row("  requested before expiry (used)", "-", "\(on.warming.used)"),
            row("  expired unrequested (wasted)", "-", "\(on.warming.wasted)"),
            row("precision (used / resolved)", "-", percent(on.warming.precision)),
            row("saved misses (ledger)", "-", "\(on.warming.savedMisses)"),
        ]
        lines.append(row("uplift", "", String(format: "%+.2f pp", uplift)))
        let reasons = WarmJob.Reason.allCases.compactMap { reason in
            on.warming.warmedByReason[reason.rawValue].map { "\(reason.rawValue) \($0)" }
        }
        if !reasons.isEmpty { lines.append("warmed by reason: " + reasons.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}

/// `paca simulate --warm --json`: the comparison as written.
struct WarmingComparison: Encodable {
    struct Pair: Encodable {
        var off: WarmingSimulation.Counts
        var on: WarmingSimulation.Counts
        var upliftPoints: Double
        var precision: Double?
        var warmingShare: Double

        init(off: WarmingSimulation.Counts, on: WarmingSimulation.Counts) {
            self.off = off
            self.on = on
            upliftPoints = (on.hitRatio - off.hitRatio) * 100
            precision = on.warming.precision
            warmingShare = on.warmingShare
        }
    }

    var log: String
    var l1Bytes: Int
    var policy: String
    var maxRequestsPerSecond: Double
    var top: Int
    var minimumProbability: Double
    var trainingMillis: Int64
    var measured: Pair
    var training: Pair
    var whole: Pair
}
