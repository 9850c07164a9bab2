import PacaHTTPCaching
import Testing

struct AgeCase: CustomTestStringConvertible, Sendable {
    let rfc = "9111 §4.2.3"
    let note: String
    let response: [String]
    let requestTime: Int64
    let responseTime: Int64
    let now: Int64
    /// Expected corrected_initial_age and current_age in ms.
    let initial: Int64
    let current: Int64
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let ageCases: [AgeCase] = [
    AgeCase(
        note: "no Age, Date = receipt", response: ["Date: \(t0Date)"], requestTime: t0ms, responseTime: t0ms, now: t0ms + 5000, initial: 0,
        current: 5000),
    AgeCase(
        note: "Age header counts", response: ["Date: \(t0Date)", "Age: 30"], requestTime: t0ms, responseTime: t0ms, now: t0ms,
        initial: 30_000, current: 30_000),
    AgeCase(
        note: "transit delay added to Age", response: ["Date: \(t0Date)", "Age: 30"], requestTime: t0ms, responseTime: t0ms + 2000,
        now: t0ms + 2000, initial: 32_000, current: 32_000),
    AgeCase(
        note: "apparent age from Date when larger", response: ["Date: \(date(-100))", "Age: 10"], requestTime: t0ms, responseTime: t0ms,
        now: t0ms, initial: 100_000, current: 100_000),
    AgeCase(
        note: "Date in the future: apparent age 0", response: ["Date: \(date(100))"], requestTime: t0ms, responseTime: t0ms, now: t0ms,
        initial: 0, current: 0),
    AgeCase(
        note: "delay alone without Age", response: ["Date: \(date(1))"], requestTime: t0ms, responseTime: t0ms + 1500, now: t0ms + 1500,
        initial: 1500, current: 1500),
    AgeCase(
        note: "invalid Age ignored", response: ["Age: -5"], requestTime: t0ms, responseTime: t0ms, now: t0ms + 10, initial: 0, current: 10),
    AgeCase(
        note: "duplicate Age lines: the first counts (§5.1)", response: ["Age: 5", "Age: 9"], requestTime: t0ms, responseTime: t0ms,
        now: t0ms, initial: 5000, current: 5000),
    AgeCase(
        note: "huge Age clamps to 2^31 s", response: ["Age: 99999999999999999999"], requestTime: t0ms, responseTime: t0ms, now: t0ms,
        initial: 2_147_483_648_000, current: 2_147_483_648_000),
    AgeCase(
        note: "request after response (clock skew): delay 0", response: ["Age: 1"], requestTime: t0ms + 500, responseTime: t0ms, now: t0ms,
        initial: 1000, current: 1000),
    AgeCase(
        note: "now before response time: resident 0", response: ["Age: 1"], requestTime: t0ms, responseTime: t0ms, now: t0ms - 9000,
        initial: 1000, current: 1000),
    AgeCase(
        note: "missing Date uses response time", response: ["Age: 2"], requestTime: t0ms - 300, responseTime: t0ms, now: t0ms + 1000,
        initial: 2300, current: 3300),
]

@Test("Age calculation", arguments: ageCases)
func ageCalculation(_ c: AgeCase) {
    let d = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200, responseHeaders: fields(c.response + ["ETag: \"a\""]), bodyBytes: 0,
        policy: RoutePolicy(ttl: 60), requestTimeMillis: c.requestTime, responseTimeMillis: c.responseTime)
    guard let plan = d.plan else { Issue.record("not stored: \(d)"); return }
    #expect(plan.correctedInitialAgeMillis == c.initial, "RFC \(c.rfc)")
    #expect(
        currentAgeMillis(
            correctedInitialAgeMillis: plan.correctedInitialAgeMillis, responseTimeMillis: plan.responseTimeMillis, nowMillis: c.now)
            == c.current, "RFC \(c.rfc)")
    #expect(plan.ageHeaderSeconds(nowMillis: c.now) == c.current / 1000)
}

@Test("Age extremes never trap")
func ageExtremes() {
    #expect(currentAgeMillis(correctedInitialAgeMillis: .max, responseTimeMillis: .min, nowMillis: .max) == .max)
    #expect(currentAgeMillis(correctedInitialAgeMillis: -5, responseTimeMillis: 0, nowMillis: 0) == 0)
    #expect(correctedInitialAgeMillis(ageSeconds: nil, dateMillis: .min, requestTimeMillis: .min, responseTimeMillis: .max) == .max)
}
