import PacaCore

/// A lock-free latency histogram: one atomic counter per bucket and one for the sum, striped
/// per event loop (`StripedCounters`), so every loop records with two relaxed increments on
/// cache lines no other loop writes. Bucket bounds are fixed (10 µs to
/// 75 s in 1-1.2-1.5-2-2.5-3-4-5-6-7.5 steps per decade) and include the coarser Prometheus
/// bounds (1, 2.5 and 5 per decade), so the exporter can fold them without error.
public final class LatencyHistogram: Sendable {
    /// The inclusive upper bound of each bucket, in microseconds; one more bucket holds the rest.
    public static let boundsMicros: [Int] = {
        let steps: [Double] = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5]
        var bounds: [Int] = []
        var decade = 10.0
        while decade <= 10_000_000 {
            for step in steps { bounds.append(Int((step * decade).rounded())) }
            decade *= 10
        }
        return bounds
    }()

    /// `boundsMicros[0]`, read without the array.
    static let firstBoundMicros = boundsMicros[0]

    /// The buckets (`boundsMicros.count + 1`), then the sum.
    private let counters = StripedCounters(count: boundsMicros.count + 2)
    private static let sumIndex = boundsMicros.count + 1

    /// Creates an empty histogram.
    public init() {}

    /// Records one observation.
    @inline(__always)
    public func record(nanoseconds: Int64) {
        let micros = Int(max(0, nanoseconds) / 1000)
        let stripe = StripedCounters.stripe
        counters.add(1, to: Self.bucket(micros: micros), stripe: stripe)
        counters.add(micros, to: Self.sumIndex, stripe: stripe)
    }

    /// The index of the first bucket whose bound is at least `micros` (binary search).
    static func bucket(micros: Int) -> Int {
        // A hit answered on the event loop takes a few microseconds: the first bucket, at once.
        if micros <= firstBoundMicros { return 0 }
        var low = 0
        var high = boundsMicros.count
        while low < high {
            let middle = (low + high) / 2
            if boundsMicros[middle] < micros { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The counts as they are now.
    public func snapshot() -> Snapshot {
        Snapshot(counts: (0...Self.boundsMicros.count).map { counters.sum($0) }, sumMicros: counters.sum(Self.sumIndex))
    }

    /// Counts per bucket (not cumulative; the last is the overflow) and their sum.
    public struct Snapshot: Sendable, Equatable {
        /// Observations per bucket, `boundsMicros.count + 1` of them.
        public var counts: [Int]
        /// The sum of all observations, in microseconds.
        public var sumMicros: Int

        /// Creates a snapshot; an empty one by default.
        public init(counts: [Int] = Array(repeating: 0, count: LatencyHistogram.boundsMicros.count + 1), sumMicros: Int = 0) {
            self.counts = counts
            self.sumMicros = sumMicros
        }

        /// All observations.
        public var total: Int { counts.reduce(0, +) }

        /// Bucket-wise sum of two snapshots.
        public static func + (lhs: Snapshot, rhs: Snapshot) -> Snapshot {
            Snapshot(counts: zip(lhs.counts, rhs.counts).map { $0 + $1 }, sumMicros: lhs.sumMicros + rhs.sumMicros)
        }

        /// The value below which `fraction` (0.5, 0.9, 0.99) of the observations fall, in
        /// microseconds, interpolated inside its bucket; 0 when nothing was recorded.
        public func percentileMicros(_ fraction: Double) -> Double {
            let total = self.total
            guard total > 0 else { return 0 }
            let target = max(1, Double(total) * fraction)
            var seen = 0
            let bounds = LatencyHistogram.boundsMicros
            for (index, count) in counts.enumerated() where count > 0 {
                if Double(seen + count) >= target {
                    let lower = index == 0 ? 0 : Double(bounds[index - 1])
                    let upper = index < bounds.count ? Double(bounds[index]) : lower * 2
                    return lower + (upper - lower) * (target - Double(seen)) / Double(count)
                }
                seen += count
            }
            return Double(bounds[bounds.count - 1])
        }
    }
}
