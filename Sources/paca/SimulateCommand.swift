import ArgumentParser
import Foundation
import PacaAccessLog
import PacaApp
import PacaCore
import PacaEngine
import PacaReplay
import PacaStorage
import PacaWarming

/// `paca simulate`: an offline what-if over a log, through the proxy's own keying and L1 policy
/// code; no network.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Offline what-if: hit ratios of cache sizes and policies over a log.",
        discussion: """
            LOG is paca's JSON access log, nginx/Apache combined, nginx main with $request_time, or a \
            plain trace of "key size [ttl]" lines; .gz files are read directly. Requests are keyed as \
            the proxy keys them (with --config, by its routes), sized by the log's bytes, and expire \
            after the log's ttl or the route's. Without --sizes/--policies it reports L1 (--l1, \
            --policy) and L1+L2 (--l2, an inclusive LRU). With --warm it replays the log twice at \
            the L1 size, without and with the prewarmer's planner (learning online from the log), \
            and compares hit ratio, origin requests and warming's precision.
            """)

    @Argument(help: "The log to simulate (plain or .gz).")
    var log: String

    @Option(help: "routes.json: key by its routes, use its route TTLs and its L1 size and policy.")
    var config: String?

    @Option(help: "The log format: json, combined, main or trace (default: detected).")
    var format: String?

    @Option(help: "L1 size (default: the config's, else 100MB).")
    var l1: String?

    @Option(help: "L2 size (default: the config's, else 1GB).")
    var l2: String?

    @Option(help: "L1 policy: lru, lfu, fifo or tinylfu (default: the config's, else tinylfu).")
    var policy: String?

    @Option(help: "Cache sizes for a miss-ratio curve, comma-separated (1MB,10MB,...).")
    var sizes: String?

    @Option(help: "Policies for the curve, comma-separated (default: --policy).")
    var policies: String?

    @Option(help: "Shards per cache as in paca's L1 (default 16); 1 simulates the textbook policy.")
    var shards = 16

    @Option(name: .customLong("entry-overhead"), help: "Bytes counted per entry on top of its body (default 0).")
    var entryOverhead = 0

    @Option(help: "Write the curve as an SVG chart to this file.")
    var svg: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Flag(help: "Recommend L1 and L2 sizes from the knee of the curve.")
    var advise = false

    @Flag(help: "Compare L1 without and with prewarming (the planner on the log's clock).")
    var warm = false

    @Option(name: .customLong("max-rps"), help: "With --warm: warming requests per second (default 20, as prewarm.max_rps).")
    var maxRPS: Double?

    @Option(help: "With --warm: keys per predictive pass (default 1000, as prewarm.top).")
    var top: Int?

    @Option(name: .customLong("min-probability"), help: "With --warm: chance needed to warm (default 0.8).")
    var minProbability: Double?

    @Option(help: "With --warm: the training period at the start of the log, reported apart (default 24h).")
    var training: String?

    func run() throws {
        var routes: RouteTable?
        var l1Default = 100 << 20
        var l2Default = 1 << 30
        var policyDefault = EvictionPolicy.tinyLFU
        if let config {
            let configuration = try loadConfiguration(config)
            routes = RouteTable(configuration.routes)
            l1Default = configuration.memory.maxBytes
            policyDefault = configuration.memory.policy
            if let disk = configuration.disk { l2Default = disk.maxBytes }
        }
        let l1Bytes = try l1.map { try Self.size($0, option: "--l1") } ?? l1Default
        let l2Bytes = try l2.map { try Self.size($0, option: "--l2") } ?? l2Default
        let mainPolicy = try policy.map { try Self.policy($0) } ?? policyDefault
        let curvePolicies = try policies.map { try $0.split(separator: ",").map { try Self.policy(String($0)) } } ?? [mainPolicy]
        var curveSizes = try sizes.map { try $0.split(separator: ",").map { try Self.size(String($0), option: "--sizes") } }
        if curveSizes == nil, advise || policies != nil {
            // 1 MB to 16 GB, doubling.
            curveSizes = (0...14).map { (1 << 20) << $0 }
        }
        guard shards >= 1, entryOverhead >= 0 else {
            printError("--shards must be at least 1 and --entry-overhead at least 0")
            throw ExitCode(2)
        }
        if warm {
            try runWarming(routes: routes, l1Bytes: l1Bytes, policy: mainPolicy)
            return
        }

        var configurations: [CacheSimulation.Configuration] = []
        if let curveSizes {
            for policy in curvePolicies {
                for size in curveSizes { configurations.append(.init(policy: policy, sizeBytes: size)) }
            }
        } else {
            configurations = [.init(policy: mainPolicy, sizeBytes: l1Bytes), .init(policy: .lru, sizeBytes: l2Bytes)]
        }

        let reader: LogReader
        do {
            reader = try LogReader(path: log, format: try format.map { try Self.format($0) })
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        var options = CacheSimulation.Options()
        options.shardCount = shards
        options.entryOverheadBytes = entryOverhead
        let simulation = CacheSimulation(configurations: configurations, keying: SimulationKeying(routes: routes), options: options)
        let started = ContinuousClock.now
        let readReport: LogReadReport
        do {
            readReport = try simulation.run(reader)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let elapsed = ContinuousClock.now - started
        let report = SimulationReport(simulation: simulation, readReport: readReport)
        let advice = advise ? SizeAdvice(rows: report.rows, policy: curvePolicies[0]) : nil

        var out = "\(log): \(reader.format.rawValue), \(readReport.lines) lines, \(report.requests) requests"
        out += " (\(report.uncacheable) uncacheable), \(report.distinctObjects) objects, "
        out += "\(HumanUnits.formatBytes(report.distinctBytes)) distinct"
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if seconds > 0 { out += ", \(Int(Double(readReport.lines) / seconds)) lines/s" }
        print(out)
        if readReport.malformed > 0 {
            let numbers = readReport.firstMalformedLines.map(String.init).joined(separator: ", ")
            print("malformed lines: \(readReport.malformed) (first: \(numbers)); skipped")
        }
        if curveSizes == nil {
            let l1Row = report.rows[0]
            let l2Row = report.rows[1]
            print(
                "L1 \(HumanUnits.formatBytes(l1Bytes)) \(mainPolicy.rawValue): object hit ratio \(Self.percent(l1Row.objectHitRatio)), "
                    + "byte hit ratio \(Self.percent(l1Row.byteHitRatio))")
            print(
                "L1+L2 \(HumanUnits.formatBytes(l2Bytes)) (inclusive, lru): object hit ratio "
                    + "\(Self.percent(max(l1Row.objectHitRatio, l2Row.objectHitRatio))), "
                    + "byte hit ratio \(Self.percent(max(l1Row.byteHitRatio, l2Row.byteHitRatio)))")
        } else {
            print(Self.pad("policy", 8, left: true) + Self.pad("size", 10) + Self.pad("object hit", 12) + Self.pad("byte hit", 12))
            for row in report.rows {
                print(
                    Self.pad(row.policy.rawValue, 8, left: true) + Self.pad(HumanUnits.formatBytes(row.sizeBytes), 10)
                        + Self.pad(Self.percent(row.objectHitRatio), 12) + Self.pad(Self.percent(row.byteHitRatio), 12))
            }
        }
        if let advice {
            print(
                "advice (\(advice.policy.rawValue)): L1 \(HumanUnits.formatBytes(advice.l1Bytes)) "
                    + "(object hit ratio \(Self.percent(advice.l1HitRatio)), the knee of the curve), "
                    + "L2 \(HumanUnits.formatBytes(advice.l2Bytes)) (\(Self.percent(advice.l2HitRatio)), "
                    + "within 0.5 points of the largest size)")
        } else if advise {
            print("advice: needs at least two sizes")
        }
        if let json { try write(report.json(advice: advice), to: json) }
        if let svg { try write(MissRatioCurveSVG.render(report), to: svg) }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            printError("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }

    private static func percent(_ ratio: Double) -> String {
        String(format: "%.2f%%", ratio * 100)
    }

    private static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }

    private static func size(_ text: String, option: String) throws -> Int {
        guard let bytes = HumanUnits.parseBytes(text), bytes > 0 else {
            printError("\(option): not a size: \(text) (use 512KB, 100MB, 1GB)")
            throw ExitCode(2)
        }
        return bytes
    }

    private static func policy(_ text: String) throws -> EvictionPolicy {
        guard let policy = EvictionPolicy(rawValue: text.lowercased().trimmingCharacters(in: .whitespaces)) else {
            printError("not a policy: \(text) (use lru, lfu, fifo or tinylfu)")
            throw ExitCode(2)
        }
        return policy
    }

    static func format(_ text: String) throws -> LogFormat {
        guard let format = LogFormat(rawValue: text) else {
            printError("--format: not a format: \(text) (use json, combined, main or trace)")
            throw ExitCode(2)
        }
        return format
    }
}
