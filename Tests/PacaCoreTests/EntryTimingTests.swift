import PacaCore
import Testing

/// 2026-01-01T00:00:00Z.
private let t0: UnixMillis = 1_767_225_600_000

@Suite("EntryTiming")
struct EntryTimingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let note: String
        let correctedInitialAge: Int64
        let freshnessLifetime: Int64
        /// Milliseconds after the response arrived.
        let elapsed: Int64
        let currentAge: Int64
        let remaining: Int64
        var testDescription: String { note }
    }

    static let cases: [Case] = [
        .init(
            note: "at arrival, no initial age", correctedInitialAge: 0, freshnessLifetime: 60_000, elapsed: 0, currentAge: 0,
            remaining: 60_000),
        .init(
            note: "resident time adds to the age", correctedInitialAge: 0, freshnessLifetime: 60_000, elapsed: 15_000, currentAge: 15_000,
            remaining: 45_000),
        .init(
            note: "initial age counts from the start", correctedInitialAge: 5_000, freshnessLifetime: 60_000, elapsed: 3_000,
            currentAge: 8_000, remaining: 52_000),
        .init(
            note: "exactly at the end of freshness", correctedInitialAge: 10_000, freshnessLifetime: 60_000, elapsed: 50_000,
            currentAge: 60_000, remaining: 0),
        .init(
            note: "negative once stale", correctedInitialAge: 5_000, freshnessLifetime: 60_000, elapsed: 70_000, currentAge: 75_000,
            remaining: -15_000),
        .init(
            note: "a clock before the response counts no resident time", correctedInitialAge: 2_000, freshnessLifetime: 60_000,
            elapsed: -9_000, currentAge: 2_000, remaining: 58_000),
        .init(
            note: "zero lifetime is stale at once", correctedInitialAge: 0, freshnessLifetime: 0, elapsed: 1, currentAge: 1, remaining: -1),
    ]

    @Test("currentAge and remainingFreshness (RFC 9111 §4.2.3)", arguments: cases)
    func ageAndFreshness(_ c: Case) {
        let timing = EntryTiming(
            requestTime: t0 - 100, responseTime: t0, correctedInitialAge: c.correctedInitialAge,
            freshnessLifetime: c.freshnessLifetime, storageExpiry: t0 + 3_600_000)
        #expect(timing.currentAge(at: t0 + c.elapsed) == c.currentAge)
        #expect(timing.remainingFreshness(at: t0 + c.elapsed) == c.remaining)
    }

    @Test("the initialiser's defaults: no stale windows, no revalidation flags")
    func defaults() {
        let timing = EntryTiming(requestTime: t0, responseTime: t0, correctedInitialAge: 0, freshnessLifetime: 1, storageExpiry: t0 + 1)
        #expect(timing.staleWhileRevalidate == 0)
        #expect(timing.staleIfError == 0)
        #expect(!timing.mustRevalidate)
        #expect(!timing.alwaysRevalidate)
        #expect(timing.storageExpiry == t0 + 1)
    }
}

@Suite("WallClock")
struct WallClockTests {
    @Test("ManualWallClock starts at 2026-01-01T00:00:00Z by default")
    func defaultStart() {
        #expect(ManualWallClock().now() == t0)
        #expect(ManualWallClock(start: 42).now() == 42)
    }

    @Test("ManualWallClock moves only when told")
    func advanceAndSet() {
        let clock = ManualWallClock()
        #expect(clock.now() == clock.now())
        clock.advance(by: .seconds(5))
        #expect(clock.now() == t0 + 5_000)
        clock.advance(by: .milliseconds(1_500))
        #expect(clock.now() == t0 + 6_500)
        clock.advance(by: .microseconds(999))
        #expect(clock.now() == t0 + 6_500, "below a millisecond rounds down to nothing")
        clock.set(1_000)
        #expect(clock.now() == 1_000)
        clock.advance(by: .zero)
        #expect(clock.now() == 1_000)
    }

    @Test("ManualWallClock advances from many tasks add up")
    func concurrentAdvance() async {
        let clock = ManualWallClock(start: 0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 { clock.advance(by: .milliseconds(1)) }
                }
            }
        }
        #expect(clock.now() == 4_000)
    }

    @Test("a ManualWallClock is usable as any WallClock")
    func existential() {
        let clock: any WallClock = ManualWallClock(start: 7)
        #expect(clock.now() == 7)
    }

    @Test("SystemWallClock reads the real time in milliseconds")
    func systemClock() {
        let now = SystemWallClock().now()
        #expect(now > 1_700_000_000_000)  // after 2023-11
        #expect(now < 4_102_444_800_000)  // before 2100
    }

    static let durationCases: [(Duration, Int64)] = [
        (.zero, 0), (.milliseconds(1), 1), (.microseconds(1_999), 1), (.seconds(2), 2_000),
        (.seconds(3) + .milliseconds(250), 3_250), (.nanoseconds(999_999), 0),
    ]

    @Test("Duration.milliseconds rounds down", arguments: durationCases)
    func durationMilliseconds(duration: Duration, milliseconds: Int64) {
        #expect(duration.milliseconds == milliseconds)
    }
}
