/// Counts of one replay (or of one of its routes), accumulated sample by sample.
public struct ReplayStatistics: Sendable {
    /// Requests finished, answered or not.
    public private(set) var requests = 0
    /// Requests that had an answer.
    public private(set) var answers = 0
    /// Errors by kind.
    public private(set) var errors: [ReplayErrorKind: Int] = [:]
    /// Answers by cache outcome.
    public private(set) var outcomes: [ReplayOutcome: Int] = [:]
    /// Body bytes of all answers.
    public private(set) var bytes = 0
    /// Body bytes of the answers that were hits.
    public private(set) var hitBytes = 0
    /// Latencies of all requests.
    public private(set) var latency: LatencySamples

    /// Creates empty counts keeping at most `latencyCapacity` latency samples.
    public init(latencyCapacity: Int = 1_000_000) {
        latency = LatencySamples(capacity: latencyCapacity)
    }

    /// Counts one sample.
    public mutating func record(_ sample: ReplaySample) {
        requests += 1
        latency.record(sample.latencyMilliseconds)
        if let error = sample.error { errors[error, default: 0] += 1 }
        guard let outcome = sample.outcome else { return }
        answers += 1
        outcomes[outcome, default: 0] += 1
        bytes += sample.bytes
        if outcome.isHit { hitBytes += sample.bytes }
    }

    /// All errors, of every kind.
    public var errorCount: Int { errors.values.reduce(0, +) }

    /// Answers that were hits.
    public var hits: Int { outcomes.filter { $0.key.isHit }.values.reduce(0, +) }

    /// Answers that cost an origin fetch (misses and bypasses).
    public var originFetches: Int { outcomes.filter { $0.key.isOriginFetch }.values.reduce(0, +) }

    /// Hits over answers (0 without answers).
    public var hitRatio: Double { answers == 0 ? 0 : Double(hits) / Double(answers) }

    /// Hit bytes over answered bytes (0 without bytes).
    public var byteHitRatio: Double { bytes == 0 ? 0 : Double(hitBytes) / Double(bytes) }
}

/// The counts of a whole run: overall, per route, and per second for the charts.
public struct ReplayTally: Sendable {
    /// How many latency samples a route keeps (the run as a whole keeps ten times more).
    public static let routeLatencyCapacity = 100_000

    /// Every request.
    public private(set) var total = ReplayStatistics(latencyCapacity: 10 * routeLatencyCapacity)
    /// Requests by route.
    public private(set) var routes: [String: ReplayStatistics] = [:]
    /// Answers and hits in each second of the run, by the second they finished in.
    public private(set) var timeline: [ReplayTimelinePoint] = []

    /// Creates empty counts.
    public init() {}

    /// Counts one sample.
    public mutating func record(_ sample: ReplaySample) {
        total.record(sample)
        routes[sample.route, default: ReplayStatistics(latencyCapacity: Self.routeLatencyCapacity)].record(sample)
        let second = max(0, Int(sample.finishedAt))
        while timeline.count <= second { timeline.append(ReplayTimelinePoint(second: timeline.count, requests: 0, hits: 0)) }
        timeline[second].requests += 1
        if sample.outcome?.isHit == true { timeline[second].hits += 1 }
    }
}

/// Requests and hits finished within one second of a run.
public struct ReplayTimelinePoint: Sendable, Equatable, Codable {
    /// Seconds from the start of the run.
    public var second: Int
    /// Requests finished in that second.
    public var requests: Int
    /// Hits among them.
    public var hits: Int

    /// Creates a point.
    public init(second: Int, requests: Int, hits: Int) {
        self.second = second
        self.requests = requests
        self.hits = hits
    }
}
