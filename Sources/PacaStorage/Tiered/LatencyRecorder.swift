import Synchronization

/// A bounded latency histogram (log-spaced buckets, microseconds) for p50/p99 per tier.
final class LatencyRecorder: Sendable {
    // Bucket i covers [2^(i/4)) microseconds roughly: 4 buckets per doubling, up to ~17 minutes.
    private static let bucketCount = 120
    private let buckets = Mutex([Int](repeating: 0, count: LatencyRecorder.bucketCount))

    init() {}

    func record(nanoseconds: Int64) {
        let micros = max(1.0, Double(nanoseconds) / 1000)
        let index = min(Self.bucketCount - 1, Int((4 * log2(micros)).rounded(.down)))
        buckets.withLock { $0[max(0, index)] += 1 }
    }

    /// The value at `fraction` (0.5, 0.99) in microseconds; 0 when nothing was recorded.
    func percentile(_ fraction: Double) -> Int {
        let counts = buckets.withLock { $0 }
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        let target = Int((Double(total) * fraction).rounded(.up))
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= target { return Int(pow2(Double(index + 1) / 4).rounded()) }
        }
        return Int(pow2(Double(Self.bucketCount) / 4))
    }

    private func log2(_ value: Double) -> Double {
        var result = 0.0
        var remaining = value
        while remaining >= 2 {
            remaining /= 2
            result += 1
        }
        // Linear interpolation inside the octave is precise enough for bucketing.
        return result + (remaining - 1)
    }

    private func pow2(_ exponent: Double) -> Double {
        let whole = Int(exponent)
        let fraction = exponent - Double(whole)
        return Double(1 << min(whole, 62)) * (1 + fraction)
    }
}
