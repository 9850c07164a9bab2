/// The most recent lookup latencies, for p50/p99 in `statistics()`. A fixed ring: recording is
/// one store, percentiles sort a copy only when asked.
struct LatencyWindow: Sendable {
    private var samples: [Int]
    private var next = 0
    private var filled = false

    init(capacity: Int = 2048) {
        samples = [Int](repeating: 0, count: capacity)
    }

    mutating func record(micros: Int) {
        samples[next] = micros
        next += 1
        if next == samples.count {
            next = 0
            filled = true
        }
    }

    /// The `fraction` percentile (0...1) of the recorded samples; 0 when there are none.
    func percentile(_ fraction: Double) -> Int {
        let count = filled ? samples.count : next
        guard count > 0 else { return 0 }
        let sorted = samples[0..<count].sorted()
        let rank = Int((fraction * Double(count - 1)).rounded())
        return sorted[min(count - 1, max(0, rank))]
    }
}
