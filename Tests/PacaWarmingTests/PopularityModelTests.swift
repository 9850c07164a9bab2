import PacaCore
import Testing

@testable import PacaWarming

/// Monday 2024-01-01 00:00 UTC.
let monday: UnixMillis = 1_704_067_200_000
let minute: Int64 = 60_000
let hour: Int64 = 3_600_000
let day: Int64 = 86_400_000

@Suite("PopularityModel")
struct PopularityModelTests {
    /// `days` days of a key requested 24 times around 09:00 each day and one requested 24 times
    /// a day spread evenly (every hour at :30).
    func dailyAndFlat(days: Int) -> PopularityModel {
        var model = PopularityModel()
        for d in 0..<Int64(days) {
            for i in 0..<Int64(24) {
                model.observe("daily", at: monday + d * day + 9 * hour + i * 15_000)
                model.observe("flat", at: monday + d * day + i * hour + 30 * minute)
            }
        }
        return model
    }

    @Test("a key hot every day at 09:00 scores above an equally frequent flat key just before 09:00 the next day, and below it at 03:00")
    func dailySeasonality() throws {
        for days in [3, 7, 21] {
            let model = dailyAndFlat(days: days)
            let next = monday + Int64(days) * day
            let before = try #require(model.prediction(for: "daily", at: next + 8 * hour + 50 * minute, within: 30 * minute))
            let flatBefore = try #require(model.prediction(for: "flat", at: next + 8 * hour + 50 * minute, within: 30 * minute))
            #expect(before.score > 3 * flatBefore.score, "after \(days) days: \(before) vs \(flatBefore)")
            #expect(before.seasonality > 5)
            #expect(abs(flatBefore.seasonality - 1) < 0.5)
            let night = try #require(model.prediction(for: "daily", at: next + 3 * hour, within: 30 * minute))
            let flatNight = try #require(model.prediction(for: "flat", at: next + 3 * hour, within: 30 * minute))
            #expect(night.score < flatNight.score / 2, "after \(days) days: \(night) vs \(flatNight)")
            #expect(night.seasonality < 0.5)
            #expect(model.top(1, at: next + 8 * hour + 50 * minute, within: 30 * minute).map(\.key) == ["daily"])
            #expect(model.top(1, at: next + 3 * hour, within: 30 * minute).map(\.key) == ["flat"])
        }
    }

    @Test("the short-term count halves every 5 minutes and the long-term count every 6 hours")
    func twoTimeScales() throws {
        var model = PopularityModel()
        for i in 0..<Int64(8) { model.observe("k", at: monday + i) }
        let now = try #require(model.prediction(for: "k", at: monday + 7, within: minute))
        #expect(abs(now.shortTermCount - 8) < 0.01 && abs(now.longTermCount - 8) < 0.01)
        let later = try #require(model.prediction(for: "k", at: monday + 7 + 5 * minute, within: minute))
        #expect(abs(later.shortTermCount - 4) < 0.01)
        #expect(later.longTermCount > 7.8)
        #expect(later.recency == 5 * minute)
        let muchLater = try #require(model.prediction(for: "k", at: monday + 7 + 6 * hour, within: minute))
        #expect(muchLater.shortTermCount < 1e-15)
        #expect(abs(muchLater.longTermCount - 4) < 0.01)
        #expect(muchLater.score < later.score && later.score < now.score)
        #expect(now.total == 8)
    }

    @Test("time running backwards (an unordered log) never inflates a count")
    func unorderedTime() throws {
        var model = PopularityModel()
        model.observe("k", at: monday + hour)
        model.observe("k", at: monday)
        let prediction = try #require(model.prediction(for: "k", at: monday + hour, within: minute))
        #expect(abs(prediction.shortTermCount - 2) < 0.01)
    }

    @Test("a full table admits a new key only once it is more frequent than the lowest-scored key, which it evicts")
    func capacityEvictsLowestScore() {
        var model = PopularityModel(configuration: .init(capacity: 3))
        for i in 0..<Int64(10) { model.observe("a", at: monday + i) }
        for i in 0..<Int64(5) { model.observe("b", at: monday + 10 + i) }
        model.observe("c", at: monday + 20)
        model.observe("c", at: monday + 21)
        #expect(Set(model.keys.keys) == ["a", "b", "c"])
        let tracked30 = model.observe("d", at: monday + 30)
        #expect(!tracked30)
        #expect(Set(model.keys.keys) == ["a", "b", "c"] && model.rejected == 1)
        let tracked31 = model.observe("d", at: monday + 31)
        #expect(!tracked31)
        let tracked32 = model.observe("d", at: monday + 32)
        #expect(tracked32)
        #expect(Set(model.keys.keys) == ["a", "b", "d"] && model.evicted == 1)
    }

    @Test("the table never holds more than its capacity under many distinct keys")
    func capacityBound() {
        var model = PopularityModel(configuration: .init(capacity: 50))
        var generator = SplitMix(seed: 7)
        for i in 0..<Int64(20_000) {
            // A Zipf-like mix: a few hot keys and a long tail.
            let u = Double(generator.next() % 1_000_000) / 1_000_000
            let rank = Int(u * u * u * u * 2000)
            model.observe("k\(rank)", at: monday + i * 100)
            #expect(model.keys.count <= 50)
        }
        #expect(model.keys.count == 50)
        // The hottest keys survive the tail.
        #expect(["k0", "k1", "k2"].allSatisfy { model.keys[$0] != nil })
    }
}

/// A deterministic generator for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
