import PacaHTTPCaching
import Testing

/// Issue 11, class 2: `Age`, `Expires` and `max-age` values at the edges of their grammar.

struct AgeFieldCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let lines: [String]
    /// The `Age` a cache uses, in seconds; `nil` when the field is ignored.
    let seconds: Int64?
    let note: String
    var testDescription: String { "RFC \(rfc): \(note) \(lines)" }
}

let ageFieldCases: [AgeFieldCase] = [
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 30"], seconds: 30, note: "plain delta-seconds"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age:  30 "], seconds: 30, note: "surrounding whitespace is not part of the value"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 30abc"], seconds: nil, note: "trailing garbage: field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: abc30"], seconds: nil, note: "leading garbage: field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 30;foo=bar"], seconds: nil, note: "a parameter: field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: -5"], seconds: nil, note: "a sign: field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 1.5"], seconds: nil, note: "a fraction: field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: \"30\""], seconds: nil, note: "quoted: not delta-seconds, field ignored"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 30, 60"], seconds: 30, note: "a list: the first member counts"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: 60", "Age: 30"], seconds: 60, note: "two lines: the first member counts"),
    AgeFieldCase(rfc: "9111 §5.1", lines: ["Age: x, 30"], seconds: nil, note: "invalid first member: field ignored"),
    AgeFieldCase(rfc: "9111 §1.2.2", lines: ["Age: 99999999999"], seconds: 2_147_483_648, note: "overflow clamps to 2^31"),
]

@Test("Age field parsing at the edges", arguments: ageFieldCases)
func ageFieldParsing(_ c: AgeFieldCase) {
    #expect(ageHeaderSeconds(fields(c.lines)) == c.seconds, "RFC \(c.rfc)")
}

struct FreshnessEdgeCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let lines: [String]
    /// The freshness lifetime in seconds the cache computes; 0 means stored but already stale.
    let lifetime: Int64
    let note: String
    var testDescription: String { "RFC \(rfc): \(note) \(lines)" }
}

let freshnessEdgeCases: [FreshnessEdgeCase] = [
    FreshnessEdgeCase(rfc: "9111 §5.2.2.1", lines: ["Cache-Control: max-age=100"], lifetime: 100, note: "valid max-age"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §1.2.2", lines: ["Cache-Control: max-age=100a"], lifetime: 0, note: "trailing garbage: stale"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §1.2.2", lines: ["Cache-Control: max-age=a100"], lifetime: 0, note: "leading garbage: stale"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §1.2.2", lines: ["Cache-Control: max-age=1.5"], lifetime: 0, note: "a fraction: stale"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §5.2", lines: ["Cache-Control: max-age = 100"], lifetime: 0, note: "spaces around =: stale"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §5.2", lines: ["Cache-Control: max-age =100"], lifetime: 0, note: "space before =: stale"),
    FreshnessEdgeCase(rfc: "9111 §4.2.1, §5.2", lines: ["Cache-Control: max-age= 100"], lifetime: 0, note: "space after =: stale"),
    FreshnessEdgeCase(
        rfc: "9111 §4.2.1", lines: ["Cache-Control: max-age=100, max-age=200"], lifetime: 0,
        note: "conflicting duplicates in one line: stale"),
    FreshnessEdgeCase(
        rfc: "9111 §4.2.1", lines: ["Cache-Control: max-age=100", "Cache-Control: max-age=5"], lifetime: 0,
        note: "conflicting duplicates across lines: stale"),
    FreshnessEdgeCase(
        rfc: "9111 §4.2.1", lines: ["Cache-Control: max-age=100, max-age=100"], lifetime: 100,
        note: "identical duplicates are not a conflict"),
    FreshnessEdgeCase(
        rfc: "9111 §4.2.1", lines: ["Cache-Control: max-age=1.5", "Expires: \(date(100))"], lifetime: 0,
        note: "invalid max-age is not replaced by Expires"),
    FreshnessEdgeCase(rfc: "9111 §5.3", lines: ["Expires: \(date(100))"], lifetime: 100, note: "valid Expires"),
    FreshnessEdgeCase(rfc: "9111 §5.3", lines: ["Expires: 0"], lifetime: 0, note: "Expires: 0 means already expired"),
    FreshnessEdgeCase(rfc: "9111 §5.3", lines: ["Expires: tomorrow"], lifetime: 0, note: "not an HTTP-date: already expired"),
    FreshnessEdgeCase(rfc: "9111 §5.3", lines: ["Expires: "], lifetime: 0, note: "empty Expires: already expired"),
    FreshnessEdgeCase(
        rfc: "9111 §5.3", lines: ["Expires: \(date(100))", "Expires: \(date(200))"], lifetime: 0,
        note: "two different Expires values: already expired"),
    FreshnessEdgeCase(
        rfc: "9111 §5.3", lines: ["Expires: \(date(100))x"], lifetime: 0, note: "trailing garbage after the date: already expired"),
]

@Test("Freshness from max-age and Expires at the edges", arguments: freshnessEdgeCases)
func freshnessEdgeParsing(_ c: FreshnessEdgeCase) {
    let d = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200, responseHeaders: fields(["Date: \(t0Date)", "ETag: \"e\""] + c.lines),
        bodyBytes: 0, policy: RoutePolicy(), requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    guard let plan = d.plan else {
        Issue.record("RFC \(c.rfc): not stored: \(d)")
        return
    }
    #expect(plan.freshnessLifetimeMillis == c.lifetime * 1000, "RFC \(c.rfc)")
}
