import Testing

@testable import PacaEngine

@Suite("LatencyHistogram")
struct LatencyHistogramTests {
    /// The first bucket whose bound is at least `micros`, by a walk over the bounds.
    static func reference(_ micros: Int) -> Int {
        LatencyHistogram.boundsMicros.firstIndex { $0 >= micros } ?? LatencyHistogram.boundsMicros.count
    }

    @Test("an observation lands in the first bucket whose bound holds it: every bound, its neighbours, zero and beyond the last")
    func buckets() {
        var values = [0, 1, Int.max / 2]
        for bound in LatencyHistogram.boundsMicros { values += [bound - 1, bound, bound + 1] }
        for value in values {
            #expect(LatencyHistogram.bucket(micros: value) == Self.reference(value), "\(value) µs")
        }
    }

    @Test("recorded observations are counted in their buckets and summed")
    func records() {
        let histogram = LatencyHistogram()
        histogram.record(nanoseconds: 3_000)
        histogram.record(nanoseconds: 10_000)
        histogram.record(nanoseconds: 11_000)
        histogram.record(nanoseconds: -5)
        let snapshot = histogram.snapshot()
        #expect(snapshot.counts[0] == 3)
        #expect(snapshot.counts[1] == 1)
        #expect(snapshot.sumMicros == 24)
    }
}
