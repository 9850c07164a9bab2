/// Latencies kept as exact samples up to a bound, then as a uniform reservoir of that many
/// (Vitter's algorithm R with a fixed seed, so a run's report is reproducible). The maximum is
/// always exact. Percentiles are nearest-rank over the kept samples.
public struct LatencySamples: Sendable {
    /// How many samples are kept at most.
    public let capacity: Int
    /// Every latency recorded, in milliseconds, while `count <= capacity`; a uniform sample after.
    public private(set) var samples: [Double] = []
    /// How many latencies were recorded.
    public private(set) var count = 0
    /// The largest latency recorded, in milliseconds.
    public private(set) var max = 0.0
    private var random = SplitMix64(seed: 0x5EED)

    /// Creates an empty set keeping at most `capacity` samples (default one million: 8 MB).
    public init(capacity: Int = 1_000_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Records one latency in milliseconds.
    public mutating func record(_ milliseconds: Double) {
        count += 1
        if milliseconds > max { max = milliseconds }
        if samples.count < capacity {
            samples.append(milliseconds)
        } else {
            let slot = Int(random.next() % UInt64(count))
            if slot < capacity { samples[slot] = milliseconds }
        }
    }

    /// The nearest-rank percentiles (`p` in 0...100) of the kept samples; 0 when empty. `p` of
    /// 100 is the exact maximum.
    public func percentiles(_ ps: [Double]) -> [Double] {
        guard !samples.isEmpty else { return ps.map { _ in 0 } }
        let sorted = samples.sorted()
        return ps.map { p in
            if p >= 100 { return max }
            return Self.nearestRank(sorted, p)
        }
    }

    /// The value at nearest rank `ceil(p/100 · n)` of an ascending array (p in 0...100).
    public static func nearestRank(_ sorted: [Double], _ p: Double) -> Double {
        precondition(!sorted.isEmpty)
        // The epsilon keeps 99.9% of 1000 at rank 999, not 1000, despite binary rounding.
        let rank = Int((p / 100 * Double(sorted.count) - 1e-9).rounded(.up))
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
    }
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64).
struct SplitMix64: Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
