import PacaHTTPCaching
import Testing

struct LookupCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var lifetime: Int64 = 60_000
    let age: Int64
    var mustRevalidate = false
    var alwaysRevalidate = false
    var swr: Int64 = 0
    var request: [String] = []
    var honor = true
    let expected: LookupDecision
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let lookupCases: [LookupCase] = [
    LookupCase(rfc: "9111 §4.2", note: "fresh", age: 10_000, expected: .fresh(remainingMillis: 50_000)),
    LookupCase(rfc: "9111 §4.2", note: "age equal to lifetime is stale", age: 60_000, expected: .revalidate),
    LookupCase(rfc: "9111 §4.2", note: "one ms before expiry is fresh", age: 59_999, expected: .fresh(remainingMillis: 1)),
    LookupCase(rfc: "9111 §4.2.4", note: "stale without windows", age: 70_000, expected: .revalidate),
    LookupCase(rfc: "5861 §3", note: "stale within swr", age: 70_000, swr: 30_000, expected: .staleWhileRevalidate(staleMillis: 10_000)),
    LookupCase(rfc: "5861 §3", note: "stale past swr", age: 90_000, swr: 30_000, expected: .revalidate),
    LookupCase(rfc: "9111 §5.2.2.4", note: "response no-cache always revalidates", age: 0, alwaysRevalidate: true, expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.4", note: "request no-cache revalidates", age: 0, request: ["Cache-Control: no-cache"], expected: .revalidate),
    LookupCase(rfc: "9111 §5.4", note: "Pragma no-cache revalidates", age: 0, request: ["Pragma: no-cache"], expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.4", note: "request no-cache ignored when not honoured", age: 0, request: ["Cache-Control: no-cache"],
        honor: false, expected: .fresh(remainingMillis: 60_000)),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "request max-age=0 revalidates", age: 0, request: ["Cache-Control: max-age=0"], expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "request max-age larger than age: fresh", age: 10_000, request: ["Cache-Control: max-age=20"],
        expected: .fresh(remainingMillis: 50_000)),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "request max-age smaller than age", age: 30_000, request: ["Cache-Control: max-age=20"],
        expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "request max-age ignored when not honoured", age: 30_000, request: ["Cache-Control: max-age=20"],
        honor: false, expected: .fresh(remainingMillis: 30_000)),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "request max-age blocks swr", age: 70_000, swr: 30_000, request: ["Cache-Control: max-age=20"],
        expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.3", note: "min-fresh satisfied", age: 10_000, request: ["Cache-Control: min-fresh=30"],
        expected: .fresh(remainingMillis: 50_000)),
    LookupCase(
        rfc: "9111 §5.2.1.3", note: "min-fresh not satisfied", age: 40_000, request: ["Cache-Control: min-fresh=30"], expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.2", note: "max-stale unlimited", age: 600_000, request: ["Cache-Control: max-stale"],
        expected: .staleAcceptable(staleMillis: 540_000)),
    LookupCase(
        rfc: "9111 §5.2.1.2", note: "max-stale within limit", age: 65_000, request: ["Cache-Control: max-stale=10"],
        expected: .staleAcceptable(staleMillis: 5_000)),
    LookupCase(
        rfc: "9111 §5.2.1.2", note: "max-stale exceeded", age: 75_000, request: ["Cache-Control: max-stale=10"], expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.2.2", note: "max-stale not allowed with must-revalidate", age: 65_000, mustRevalidate: true,
        request: ["Cache-Control: max-stale"], expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.2.2", note: "must-revalidate does not affect fresh", age: 5_000, mustRevalidate: true,
        expected: .fresh(remainingMillis: 55_000)),
    LookupCase(
        rfc: "5861 §3", note: "swr preferred over max-stale", age: 65_000, swr: 30_000, request: ["Cache-Control: max-stale"],
        expected: .staleWhileRevalidate(staleMillis: 5_000)),
    LookupCase(rfc: "9111 §4.2", note: "lifetime 0 is always stale", lifetime: 0, age: 0, expected: .revalidate),
    LookupCase(rfc: "9111 §4.2", note: "negative inputs clamp", lifetime: -5, age: -5, expected: .revalidate),
    LookupCase(
        rfc: "9111 §5.2.1.1", note: "conflicting request max-age forces revalidation", age: 1_000,
        request: ["Cache-Control: max-age=5, max-age=50"], expected: .revalidate),
]

@Test("Lookup decisions", arguments: lookupCases)
func lookup(_ c: LookupCase) {
    let request = RequestDirectives(headers: fields(c.request)).cacheControl
    let d = evaluateLookup(
        freshnessLifetimeMillis: c.lifetime, currentAgeMillis: c.age, mustRevalidate: c.mustRevalidate,
        alwaysRevalidate: c.alwaysRevalidate, staleWhileRevalidateMillis: c.swr, request: request, honorClientNoCache: c.honor)
    #expect(d == c.expected, "RFC \(c.rfc)")
}

@Test("Lookup from a stored plan (RFC 9111 §4.2)")
func lookupFromPlan() throws {
    let d = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200,
        responseHeaders: h("Date: \(t0Date)", "Cache-Control: max-age=60, stale-while-revalidate=30", "Age: 10"),
        bodyBytes: 1, policy: RoutePolicy(), requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    let plan = try #require(d.plan)
    #expect(evaluateLookup(plan: plan, nowMillis: t0ms + 20_000, request: CacheControl()) == .fresh(remainingMillis: 30_000))
    #expect(evaluateLookup(plan: plan, nowMillis: t0ms + 60_000, request: CacheControl()) == .staleWhileRevalidate(staleMillis: 10_000))
    #expect(evaluateLookup(plan: plan, nowMillis: t0ms + 90_000, request: CacheControl()) == .revalidate)
    #expect(plan.remainingFreshnessMillis(nowMillis: t0ms + 60_000) == -10_000)
}

struct StaleErrorCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var lifetime: Int64 = 60_000
    let age: Int64
    var sie: Int64 = 0
    var mustRevalidate = false
    var alwaysRevalidate = false
    var request: [String] = []
    let allowed: Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let staleErrorCases: [StaleErrorCase] = [
    StaleErrorCase(rfc: "5861 §4", note: "within stale-if-error", age: 100_000, sie: 300_000, allowed: true),
    StaleErrorCase(rfc: "5861 §4", note: "past stale-if-error", age: 400_000, sie: 300_000, allowed: false),
    StaleErrorCase(rfc: "5861 §4", note: "no window", age: 61_000, allowed: false),
    StaleErrorCase(rfc: "9111 §4.2.4", note: "fresh entry can always be served", age: 1_000, allowed: true),
    StaleErrorCase(
        rfc: "9111 §5.2.2.2", note: "must-revalidate forbids stale on error", age: 100_000, sie: 300_000, mustRevalidate: true,
        allowed: false),
    StaleErrorCase(
        rfc: "9111 §5.2.2.4", note: "no-cache forbids serving without validation", age: 1_000, alwaysRevalidate: true, allowed: false),
    StaleErrorCase(
        rfc: "5861 §4", note: "request stale-if-error grants", age: 100_000, request: ["Cache-Control: stale-if-error=60"], allowed: true),
    StaleErrorCase(
        rfc: "9111 §5.2.1.2", note: "request max-stale grants", age: 100_000, request: ["Cache-Control: max-stale=60"], allowed: true),
    StaleErrorCase(
        rfc: "9111 §5.2.1.2", note: "request max-stale too small", age: 200_000, request: ["Cache-Control: max-stale=60"], allowed: false),
]

@Test("Stale on origin error", arguments: staleErrorCases)
func staleOnError(_ c: StaleErrorCase) {
    let request = RequestDirectives(headers: fields(c.request)).cacheControl
    #expect(
        canServeStaleOnError(
            freshnessLifetimeMillis: c.lifetime, currentAgeMillis: c.age, staleIfErrorMillis: c.sie,
            mustRevalidate: c.mustRevalidate, alwaysRevalidate: c.alwaysRevalidate, request: request) == c.allowed, "RFC \(c.rfc)")
}
