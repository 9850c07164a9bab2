public import PacaAccessLog
public import PacaStorage

/// The outcome of a simulation in the shape `paca simulate` prints and writes
/// (`--json`, documented in the README): requests, and one row per policy and size.
public struct SimulationReport: Sendable, Equatable {
    /// One row of the curve.
    public struct Row: Sendable, Equatable {
        /// The policy.
        public var policy: EvictionPolicy
        /// The cache size in bytes.
        public var sizeBytes: Int
        /// Hits / requests.
        public var objectHitRatio: Double
        /// Hit bytes / requested bytes.
        public var byteHitRatio: Double

        /// Creates a row.
        public init(policy: EvictionPolicy, sizeBytes: Int, objectHitRatio: Double, byteHitRatio: Double) {
            self.policy = policy
            self.sizeBytes = sizeBytes
            self.objectHitRatio = objectHitRatio
            self.byteHitRatio = byteHitRatio
        }
    }

    /// Requests replayed.
    public var requests: Int
    /// Requests the proxy would not cache.
    public var uncacheable: Int
    /// Distinct cacheable objects.
    public var distinctObjects: Int
    /// Their bytes.
    public var distinctBytes: Int
    /// Log lines that could not be parsed.
    public var malformedLines: Int
    /// One row per configuration, in the order given.
    public var rows: [Row]

    /// The report of a finished `simulation`.
    public init(simulation: CacheSimulation, readReport: LogReadReport) {
        requests = simulation.requests
        uncacheable = simulation.uncacheable
        distinctObjects = simulation.distinctKeys
        distinctBytes = simulation.distinctBytes
        malformedLines = readReport.malformed
        rows = simulation.results.map { result in
            Row(
                policy: result.configuration.policy, sizeBytes: result.configuration.sizeBytes,
                objectHitRatio: simulation.objectHitRatio(result), byteHitRatio: simulation.byteHitRatio(result))
        }
    }

    /// The JSON document: `{"requests": N, "uncacheable": N, "distinct_objects": N,
    /// "distinct_bytes": N, "malformed_lines": N, "results": [{"policy": "lru",
    /// "size_bytes": N, "object_hit_ratio": x, "byte_hit_ratio": y}, …]}` (ratios 0…1,
    /// rounded to 6 decimals), and an `"advice"` object when `advice` is given.
    public func json(advice: SizeAdvice? = nil) -> String {
        var text = "{\n  \"requests\": \(requests),\n  \"uncacheable\": \(uncacheable),\n"
        text += "  \"distinct_objects\": \(distinctObjects),\n  \"distinct_bytes\": \(distinctBytes),\n"
        text += "  \"malformed_lines\": \(malformedLines),\n  \"results\": ["
        text += rows.map { row in
            "\n    {\"policy\": \"\(row.policy.rawValue)\", \"size_bytes\": \(row.sizeBytes), "
                + "\"object_hit_ratio\": \(Self.decimal(row.objectHitRatio)), \"byte_hit_ratio\": \(Self.decimal(row.byteHitRatio))}"
        }.joined(separator: ",")
        text += rows.isEmpty ? "]" : "\n  ]"
        if let advice {
            text += ",\n  \"advice\": {\"policy\": \"\(advice.policy.rawValue)\", \"l1_bytes\": \(advice.l1Bytes), "
            text += "\"l1_object_hit_ratio\": \(Self.decimal(advice.l1HitRatio)), \"l2_bytes\": \(advice.l2Bytes), "
            text += "\"l2_object_hit_ratio\": \(Self.decimal(advice.l2HitRatio))}"
        }
        return text + "\n}\n"
    }

    /// `value` with at most 6 decimals, as JSON (never an exponent).
    static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let scaled = Int64((value * 1_000_000).rounded())
        let whole = scaled / 1_000_000
        var fraction = String(abs(scaled % 1_000_000))
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let sign = scaled < 0 && whole == 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}
