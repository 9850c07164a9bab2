public import PacaStorage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// L1 and L2 sizes recommended from a hit-ratio curve (`paca simulate --advise`).
///
/// L1 is the knee of the curve: on a log-size axis, the measured size farthest above the
/// straight line from the smallest to the largest size (Satopää et al.'s "Kneedle"), where each
/// doubling starts to buy less. L2 is the smallest size whose object hit ratio is within half
/// a percentage point of the largest size's: beyond it, disk buys almost nothing.
public struct SizeAdvice: Sendable, Equatable {
    /// The policy whose curve was used.
    public var policy: EvictionPolicy
    /// Recommended L1 size.
    public var l1Bytes: Int
    /// The object hit ratio at `l1Bytes`.
    public var l1HitRatio: Double
    /// Recommended L2 size (at least `l1Bytes`).
    public var l2Bytes: Int
    /// The object hit ratio at `l2Bytes`.
    public var l2HitRatio: Double

    /// The advice for `policy` from `rows`; `nil` when there are fewer than two sizes for it.
    public init?(rows: [SimulationReport.Row], policy: EvictionPolicy) {
        let curve = rows.filter { $0.policy == policy && $0.sizeBytes > 0 }.sorted { $0.sizeBytes < $1.sizeBytes }
        guard curve.count >= 2, let first = curve.first, let last = curve.last else { return nil }
        self.policy = policy
        let x0 = Double(first.sizeBytes).logarithm
        let x1 = Double(last.sizeBytes).logarithm
        let y0 = first.objectHitRatio
        let y1 = last.objectHitRatio
        var knee = first
        var bestDistance = -Double.infinity
        for row in curve {
            let x = x1 == x0 ? 0 : (Double(row.sizeBytes).logarithm - x0) / (x1 - x0)
            let chord = y0 + (y1 - y0) * x
            let distance = row.objectHitRatio - chord
            if distance > bestDistance {
                bestDistance = distance
                knee = row
            }
        }
        let plateau = curve.first { $0.objectHitRatio >= last.objectHitRatio - 0.005 } ?? last
        let l2 = plateau.sizeBytes >= knee.sizeBytes ? plateau : knee
        l1Bytes = knee.sizeBytes
        l1HitRatio = knee.objectHitRatio
        l2Bytes = l2.sizeBytes
        l2HitRatio = l2.objectHitRatio
    }
}

extension Double {
    /// The natural logarithm (0 for values ≤ 0), for placing sizes on a log axis.
    var logarithm: Double { self > 0 ? log(self) : 0 }
}
