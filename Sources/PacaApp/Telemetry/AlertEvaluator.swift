public import PacaCore

/// Decides which alerts are active from samples of the proxy's counters (DESIGN.md, the original
/// PACA alerts): a value-type state machine with no clock or I/O of its own, fed samples stamped
/// with an injected wall clock, so a table of samples tests it without sleeping.
public struct AlertEvaluator: Sendable {
    /// The alerts paca raises; the raw value is the `alert` label and the `/stats` name.
    public enum Alert: String, Sendable, CaseIterable, Comparable {
        case hitRatioLow = "hit_ratio_low"
        case l1NearBudget = "l1_near_budget"
        case l2NearBudget = "l2_near_budget"
        case originErrors = "origin_errors"
        case l3BreakerOpen = "l3_breaker_open"

        public static func < (lhs: Alert, rhs: Alert) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The counters and gauges at one moment. Counters only grow (since the start).
    public struct Sample: Sendable, Equatable {
        /// When it was taken.
        public var at: UnixMillis
        /// Cacheable lookups served from a tier, and those that were not.
        public var hits: Int
        public var misses: Int
        /// Origin exchanges, and those that failed.
        public var originFetches: Int
        public var originErrors: Int
        /// Bytes held and the budget of L1 and L2 (`nil` when the tier is absent).
        public var l1: (bytes: Int, budget: Int)?
        public var l2: (bytes: Int, budget: Int)?
        /// Whether L3's circuit breaker is open (`false` without L3).
        public var l3BreakerOpen: Bool

        /// Creates a sample.
        public init(
            at: UnixMillis, hits: Int = 0, misses: Int = 0, originFetches: Int = 0, originErrors: Int = 0,
            l1: (bytes: Int, budget: Int)? = nil,
            l2: (bytes: Int, budget: Int)? = nil, l3BreakerOpen: Bool = false
        ) {
            self.at = at
            self.hits = hits
            self.misses = misses
            self.originFetches = originFetches
            self.originErrors = originErrors
            self.l1 = l1
            self.l2 = l2
            self.l3BreakerOpen = l3BreakerOpen
        }

        public static func == (lhs: Sample, rhs: Sample) -> Bool {
            lhs.at == rhs.at && lhs.hits == rhs.hits && lhs.misses == rhs.misses && lhs.originFetches == rhs.originFetches
                && lhs.originErrors == rhs.originErrors && lhs.l1?.bytes == rhs.l1?.bytes && lhs.l1?.budget == rhs.l1?.budget
                && lhs.l2?.bytes == rhs.l2?.bytes && lhs.l2?.budget == rhs.l2?.budget && lhs.l3BreakerOpen == rhs.l3BreakerOpen
        }
    }

    /// An alert that started or ended with the last sample.
    public enum Transition: Sendable, Equatable {
        case started(Alert, detail: String)
        case ended(Alert)
    }

    /// Most samples kept; evaluations more frequent than `window / maxSamples` thin the oldest.
    static let maxSamples = 4096

    /// The thresholds.
    public let thresholds: PacaConfiguration.Alerts
    /// Active alerts and what made them fire (updated on each sample).
    public private(set) var active: [Alert: String] = [:]
    /// Samples of the last window, oldest first, plus the newest one older than the window (the
    /// baseline the deltas are taken from).
    private var samples: [Sample] = []

    /// Creates an evaluator with nothing active.
    public init(thresholds: PacaConfiguration.Alerts) {
        self.thresholds = thresholds
    }

    /// Takes a sample and returns the alerts that started or ended with it.
    public mutating func evaluate(_ sample: Sample) -> [Transition] {
        samples.append(sample)
        let windowStart = sample.at - thresholds.window.milliseconds
        // Keep exactly one sample at or before the window's start, as the baseline.
        while samples.count > 1, samples[1].at <= windowStart { samples.removeFirst() }
        if samples.count > Self.maxSamples { samples.removeFirst(samples.count - Self.maxSamples) }
        let baseline = samples[0]

        var now: [Alert: String] = [:]
        let hits = sample.hits - baseline.hits
        let lookups = hits + sample.misses - baseline.misses
        if lookups >= thresholds.minimumRequests {
            let ratio = Double(hits) / Double(lookups)
            if ratio < thresholds.minimumHitRatio {
                now[.hitRatioLow] =
                    "hit ratio \(Self.percent(ratio)) over the last \(Self.span(sample.at - baseline.at)) (\(lookups) lookups), below \(Self.percent(thresholds.minimumHitRatio))"
            }
        }
        for (alert, tier, name) in [(Alert.l1NearBudget, sample.l1, "L1"), (.l2NearBudget, sample.l2, "L2")] {
            guard let tier, tier.budget > 0 else { continue }
            let usage = Double(tier.bytes) / Double(tier.budget)
            if usage > thresholds.maximumTierUsage {
                now[alert] =
                    "\(name) holds \(Self.percent(usage)) of its budget (\(tier.bytes) of \(tier.budget) bytes), above \(Self.percent(thresholds.maximumTierUsage))"
            }
        }
        let fetches = sample.originFetches - baseline.originFetches
        if fetches >= thresholds.minimumOriginFetches {
            let ratio = Double(sample.originErrors - baseline.originErrors) / Double(fetches)
            if ratio > thresholds.maximumOriginErrorRatio {
                now[.originErrors] =
                    "origin errors \(Self.percent(ratio)) of \(fetches) fetches over the last \(Self.span(sample.at - baseline.at)), above \(Self.percent(thresholds.maximumOriginErrorRatio))"
            }
        }
        if sample.l3BreakerOpen { now[.l3BreakerOpen] = "L3 Redis circuit breaker is open: L3 is skipped" }

        var transitions: [Transition] = []
        for alert in Alert.allCases {
            switch (active[alert] != nil, now[alert]) {
            case (false, .some(let detail)): transitions.append(.started(alert, detail: detail))
            case (true, .none): transitions.append(.ended(alert))
            default: break
            }
        }
        active = now
        return transitions
    }

    static func percent(_ ratio: Double) -> String {
        let tenths = (ratio * 1000).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10)%"
    }

    static func span(_ millis: Int64) -> String {
        let seconds = millis / 1000
        return seconds >= 60 && seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }
}
