import PacaWarming
import Testing

@Suite("TokenBucket")
struct TokenBucketTests {
    @Test("requests reserved together at 10/s are sent 100 ms apart")
    func spacing() {
        var bucket = TokenBucket(ratePerSecond: 10, now: 0)
        let times = (0..<5).map { _ in bucket.reserve(at: 0) }
        #expect(times == [0, 100, 200, 300, 400])
    }

    @Test("after an idle period a burst goes at once, then the rate holds")
    func burstAfterIdle() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 3, now: 0)
        #expect((0..<3).map { _ in bucket.reserve(at: 10_000) } == [10_000, 10_000, 10_000])
        #expect(bucket.reserve(at: 10_000) == 10_500)
        #expect(bucket.reserve(at: 10_000) == 11_000)
    }

    @Test("for random arrivals, no interval of t seconds holds more than burst + rate × t send times")
    func budgetNeverExceeded() {
        var state: UInt64 = 99
        for (rate, burst) in [(5.0, 1.0), (20, 4), (0.5, 2)] {
            var bucket = TokenBucket(ratePerSecond: rate, burst: burst, now: 0)
            var now: Int64 = 0
            var sends: [Int64] = []
            for _ in 0..<400 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                // Bursts of arrivals and gaps of up to 3 s.
                now += Int64(state >> 33) % 3_000 < 2_000 ? 0 : Int64(state >> 33) % 3_000
                let send = bucket.reserve(at: now)
                #expect(send >= now)
                sends.append(send)
            }
            sends.sort()
            for (i, start) in sends.enumerated() {
                for window in [Int64(0), 999, 10_000] {
                    let inside = sends[i...].prefix { $0 <= start + window }.count
                    #expect(Double(inside) <= burst + rate * Double(window) / 1000 + 1e-9, "rate \(rate), burst \(burst)")
                }
            }
        }
    }
}
