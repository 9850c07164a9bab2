public import Foundation

/// A replay's results as `--json` writes them and `--compare` reads them back. The keys are
/// snake_case and documented in the README; new keys may be added, none removed.
public struct ReplayReport: Sendable, Codable, Equatable {
    /// Latency percentiles in milliseconds (nearest rank; `max` exact).
    public struct Latency: Sendable, Codable, Equatable {
        /// Median.
        public var p50: Double
        /// 90th percentile.
        public var p90: Double
        /// 99th percentile.
        public var p99: Double
        /// 99.9th percentile.
        public var p999: Double
        /// The slowest request.
        public var max: Double

        init(_ samples: LatencySamples) {
            let values = samples.percentiles([50, 90, 99, 99.9, 100])
            (p50, p90, p99, p999, max) = (values[0], values[1], values[2], values[3], values[4])
        }
    }

    /// The counts of the run as a whole or of one route.
    public struct Counts: Sendable, Codable, Equatable {
        /// Requests sent and finished.
        public var requests: Int
        /// Errors of every kind (5xx answers included).
        public var errors: Int
        /// Hits over answers.
        public var hitRatio: Double
        /// Hit bytes over answered bytes.
        public var byteHitRatio: Double
        /// Body bytes received.
        public var bytes: Int
        /// Answers that cost an origin fetch (misses and bypasses).
        public var originFetches: Int
        /// Origin fetches per second of the run.
        public var originFetchesPerSecond: Double
        /// Answers by cache outcome (`l1`, `l2`, `l3`, `stale`, `collapsed`, `miss`, `bypass`, `unknown`).
        public var outcomes: [String: Int]
        /// Errors by kind (`connect`, `timeout`, `protocol`, `status_5xx`).
        public var errorsByKind: [String: Int]
        /// Latency percentiles.
        public var latencyMs: Latency

        enum CodingKeys: String, CodingKey {
            case requests, errors, bytes, outcomes
            case hitRatio = "hit_ratio"
            case byteHitRatio = "byte_hit_ratio"
            case originFetches = "origin_fetches"
            case originFetchesPerSecond = "origin_fetches_per_s"
            case errorsByKind = "errors_by_kind"
            case latencyMs = "latency_ms"
        }

        init(_ statistics: ReplayStatistics, seconds: Double) {
            requests = statistics.requests
            errors = statistics.errorCount
            hitRatio = statistics.hitRatio
            byteHitRatio = statistics.byteHitRatio
            bytes = statistics.bytes
            originFetches = statistics.originFetches
            originFetchesPerSecond = seconds > 0 ? Double(statistics.originFetches) / seconds : 0
            outcomes = Dictionary(uniqueKeysWithValues: ReplayOutcome.allCases.map { ($0.rawValue, statistics.outcomes[$0] ?? 0) })
            errorsByKind = Dictionary(uniqueKeysWithValues: ReplayErrorKind.allCases.map { ($0.rawValue, statistics.errors[$0] ?? 0) })
            latencyMs = Latency(statistics.latency)
        }
    }

    /// The log replayed.
    public var log: String
    /// The base URL the requests went to.
    public var target: String
    /// The pacing, as printed (`concurrency 8`, `speed 1x`, `rate 50/s`).
    public var pacing: String
    /// Wall seconds from the first request sent to the last answer.
    public var durationSeconds: Double
    /// The run as a whole.
    public var total: Counts
    /// Each route, by name.
    public var routes: [String: Counts]
    /// Requests and hits per second of the run.
    public var timeline: [ReplayTimelinePoint]
    /// Log lines that could not be parsed (skipped).
    public var malformedLines: Int

    /// Builds the report of a finished run.
    public init(log: String, target: String, pacing: ReplayPacing, tally: ReplayTally, seconds: Double, malformedLines: Int) {
        self.log = log
        self.target = target
        self.pacing = pacing.description
        durationSeconds = seconds
        total = Counts(tally.total, seconds: seconds)
        routes = tally.routes.mapValues { Counts($0, seconds: seconds) }
        timeline = tally.timeline
        self.malformedLines = malformedLines
    }

    enum CodingKeys: String, CodingKey {
        case log, target, pacing, routes, timeline
        case durationSeconds = "duration_s"
        case malformedLines = "malformed_lines"
    }

    // The run's totals sit at the top level of the JSON, next to `routes`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        log = try container.decodeIfPresent(String.self, forKey: .log) ?? ""
        target = try container.decodeIfPresent(String.self, forKey: .target) ?? ""
        pacing = try container.decodeIfPresent(String.self, forKey: .pacing) ?? ""
        durationSeconds = try container.decodeIfPresent(Double.self, forKey: .durationSeconds) ?? 0
        routes = try container.decodeIfPresent([String: Counts].self, forKey: .routes) ?? [:]
        timeline = try container.decodeIfPresent([ReplayTimelinePoint].self, forKey: .timeline) ?? []
        malformedLines = try container.decodeIfPresent(Int.self, forKey: .malformedLines) ?? 0
        total = try Counts(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try total.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(log, forKey: .log)
        try container.encode(target, forKey: .target)
        try container.encode(pacing, forKey: .pacing)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(routes, forKey: .routes)
        try container.encode(timeline, forKey: .timeline)
        try container.encode(malformedLines, forKey: .malformedLines)
    }

    /// The report as pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a report written by `jsonData()`.
    public static func decode(_ data: Data) throws -> ReplayReport {
        try JSONDecoder().decode(ReplayReport.self, from: data)
    }
}
