import PacaHTTPCaching
import Testing

struct TTLCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var status = 200
    let response: [String]
    let policy: RoutePolicy
    /// Expected freshness lifetime in seconds.
    let seconds: Int64
    var testDescription: String { "\(rfc): \(note) [\(policy.ttlSource.rawValue)]" }
}

private let lm = ["Date: \(t0Date)", "Last-Modified: \(date(-1000))", "ETag: \"v\""]  // heuristic 100 s

let ttlCases: [TTLCase] = [
    // cache-control-first
    TTLCase(
        rfc: "paca §3 / 9111 §4.2.1", note: "origin max-age wins over route ttl", response: ["Cache-Control: max-age=60"],
        policy: RoutePolicy(ttl: 300), seconds: 60),
    TTLCase(
        rfc: "paca §3 / 9111 §4.2.1", note: "origin max-age=0 is honoured", response: ["Cache-Control: max-age=0", "ETag: \"v\""],
        policy: RoutePolicy(ttl: 300), seconds: 0),
    TTLCase(
        rfc: "paca §3 / 9111 §5.3", note: "Expires wins over route ttl", response: ["Date: \(t0Date)", "Expires: \(date(45))"],
        policy: RoutePolicy(ttl: 300), seconds: 45),
    TTLCase(rfc: "paca §3", note: "route ttl when origin is silent", response: [], policy: RoutePolicy(ttl: 300), seconds: 300),
    TTLCase(rfc: "paca §3", note: "route ttl beats the heuristic", response: lm, policy: RoutePolicy(ttl: 300), seconds: 300),
    TTLCase(rfc: "paca §3 / 9111 §4.2.2", note: "heuristic as last resort", response: lm, policy: RoutePolicy(), seconds: 100),
    TTLCase(
        rfc: "paca §3", note: "max_ttl caps origin max-age", response: ["Cache-Control: max-age=600"], policy: RoutePolicy(maxTTL: 120),
        seconds: 120),
    TTLCase(
        rfc: "paca §3", note: "max_ttl caps s-maxage", response: ["Cache-Control: s-maxage=600"], policy: RoutePolicy(maxTTL: 120),
        seconds: 120),
    TTLCase(rfc: "paca §3", note: "max_ttl caps the heuristic", response: lm, policy: RoutePolicy(maxTTL: 10), seconds: 10),
    TTLCase(rfc: "paca §3", note: "negative route ttl counts as 0", response: ["ETag: \"v\""], policy: RoutePolicy(ttl: -5), seconds: 0),
    TTLCase(
        rfc: "paca §3 / 9111 §1.2.2", note: "huge route ttl clamps to 2^31", response: [], policy: RoutePolicy(ttl: .max),
        seconds: 2_147_483_648),
    TTLCase(
        rfc: "paca §3", note: "negative max_ttl caps to 0", response: ["Cache-Control: max-age=60", "ETag: \"v\""],
        policy: RoutePolicy(maxTTL: -1), seconds: 0),
    // route-first
    TTLCase(
        rfc: "paca §3", note: "route ttl overrides max-age", response: ["Cache-Control: max-age=60"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeFirst), seconds: 300),
    TTLCase(
        rfc: "paca §3", note: "route ttl overrides Expires", response: ["Date: \(t0Date)", "Expires: \(date(45))"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeFirst), seconds: 300),
    TTLCase(
        rfc: "paca §3 / 9111 §5.2.2.10", note: "s-maxage wins over route ttl", response: ["Cache-Control: s-maxage=20, max-age=60"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeFirst), seconds: 20),
    TTLCase(
        rfc: "paca §3", note: "no route ttl: falls back to max-age", response: ["Cache-Control: max-age=60"],
        policy: RoutePolicy(ttlSource: .routeFirst), seconds: 60),
    TTLCase(
        rfc: "paca §3", note: "no route ttl and no origin: heuristic", response: lm, policy: RoutePolicy(ttlSource: .routeFirst),
        seconds: 100),
    TTLCase(
        rfc: "paca §3", note: "max_ttl caps route-first", response: [], policy: RoutePolicy(ttl: 300, ttlSource: .routeFirst, maxTTL: 30),
        seconds: 30),
    // route-only
    TTLCase(
        rfc: "paca §3", note: "route-only ignores max-age", response: ["Cache-Control: max-age=60"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeOnly), seconds: 300),
    TTLCase(
        rfc: "paca §3", note: "route-only ignores s-maxage", response: ["Cache-Control: s-maxage=20"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeOnly), seconds: 300),
    TTLCase(
        rfc: "paca §3", note: "route-only ignores max-age=0", response: ["Cache-Control: max-age=0"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeOnly), seconds: 300),
    TTLCase(
        rfc: "paca §3", note: "route-only without ttl: 0", response: ["Cache-Control: max-age=60", "ETag: \"v\""],
        policy: RoutePolicy(ttlSource: .routeOnly), seconds: 0),
    TTLCase(rfc: "paca §3", note: "route-only: no heuristic", response: lm, policy: RoutePolicy(ttlSource: .routeOnly), seconds: 0),
    TTLCase(
        rfc: "paca §3", note: "route-only capped by max_ttl", response: [],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeOnly, maxTTL: 50), seconds: 50),
    TTLCase(
        rfc: "paca §3 / 9110 §15.1", note: "route-only: 500 keeps origin freshness", status: 500, response: ["Cache-Control: max-age=7"],
        policy: RoutePolicy(ttl: 300, ttlSource: .routeOnly), seconds: 7),
]

@Test("TTL sources", arguments: ttlCases)
func ttlSource(_ c: TTLCase) {
    let d = evaluateStorability(
        method: "GET", requestHeaders: [], status: c.status, responseHeaders: fields(c.response), bodyBytes: 1,
        policy: c.policy, requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    #expect(d.plan?.freshnessLifetimeMillis == c.seconds * 1000, "\(c.rfc): \(d)")
}

@Test("TTLSource raw values match routes.json")
func ttlSourceRawValues() {
    #expect(TTLSource.allCases.map(\.rawValue) == ["cache-control-first", "route-first", "route-only"])
    #expect(RoutePolicy().ttlSource == .cacheControlFirst)
}
