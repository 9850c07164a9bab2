/// A fixed-size latency histogram in microseconds: exact below 16 µs, then eight buckets per
/// power of two (at most 12.5 % error) up to about 35 minutes. 240 counters, no allocation per
/// sample.
struct LatencyHistogram {
    private static let bucketCount = 16 + 28 * 8
    private var counts = [Int](repeating: 0, count: bucketCount)
    private(set) var total = 0

    mutating func record(micros: Int) {
        counts[Self.bucket(of: max(0, micros))] += 1
        total += 1
    }

    /// The lower bound of the bucket holding the `fraction` quantile (0 when empty).
    func percentile(_ fraction: Double) -> Int {
        guard total > 0 else { return 0 }
        let rank = max(1, Int((Double(total) * fraction).rounded(.up)))
        var seen = 0
        for (bucket, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return Self.lowerBound(of: bucket) }
        }
        return Self.lowerBound(of: Self.bucketCount - 1)
    }

    static func bucket(of value: Int) -> Int {
        if value < 16 { return value }
        let exponent = Int.bitWidth - 1 - value.leadingZeroBitCount  // ≥ 4
        let sub = (value >> (exponent - 3)) & 7
        return min(bucketCount - 1, 16 + (exponent - 4) * 8 + sub)
    }

    static func lowerBound(of bucket: Int) -> Int {
        if bucket < 16 { return bucket }
        let exponent = (bucket - 16) / 8 + 4
        let sub = (bucket - 16) % 8
        return (8 + sub) << (exponent - 3)
    }
}
