import PacaHTTPCaching
import Testing

struct StoreCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var method = "GET"
    var request: [String] = []
    var status = 200
    let response: [String]
    var body = 10
    var policy = RoutePolicy()
    /// Expected reason, or nil when it must be stored.
    let reason: NotStorableReason?
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let storeCases: [StoreCase] = [
    StoreCase(rfc: "9111 §3", note: "GET 200 with max-age is stored", response: ["Cache-Control: max-age=60"], reason: nil),
    StoreCase(rfc: "9111 §3", note: "HEAD is cacheable", method: "HEAD", response: ["Cache-Control: max-age=60"], reason: nil),
    StoreCase(rfc: "9111 §3", note: "POST is not stored", method: "POST", response: ["Cache-Control: max-age=60"], reason: .method),
    StoreCase(rfc: "9111 §3", note: "methods are case-sensitive", method: "get", response: ["Cache-Control: max-age=60"], reason: .method),
    StoreCase(rfc: "9111 §3", note: "1xx is not final", status: 103, response: ["Cache-Control: max-age=60"], reason: .status),
    StoreCase(
        rfc: "9111 §3", note: "304 is not stored as a response", status: 304, response: ["Cache-Control: max-age=60"], reason: .status),
    StoreCase(rfc: "9111 §3", note: "status outside 100-599", status: 799, response: ["Cache-Control: max-age=60"], reason: .status),
    StoreCase(rfc: "9111 §3.3", note: "206 partial is not stored", status: 206, response: ["Cache-Control: max-age=60"], reason: .partial),
    StoreCase(rfc: "9111 §5.2.2.5", note: "response no-store", response: ["Cache-Control: no-store, max-age=60"], reason: .noStore),
    StoreCase(
        rfc: "9111 §5.2.1.5", note: "request no-store", request: ["Cache-Control: no-store"], response: ["Cache-Control: max-age=60"],
        reason: .noStore),
    StoreCase(
        rfc: "9111 §5.2.2.3", note: "must-understand with understood status overrides no-store",
        response: ["Cache-Control: must-understand, no-store, max-age=60"], reason: nil),
    StoreCase(
        rfc: "9111 §5.2.2.3", note: "must-understand with unknown status", status: 299,
        response: ["Cache-Control: must-understand, max-age=60"], reason: .status),
    StoreCase(
        rfc: "9111 §5.2.2.7", note: "private is not stored by a shared cache", response: ["Cache-Control: private, max-age=60"],
        reason: .isPrivate),
    StoreCase(
        rfc: "9111 §4.2.1", note: "public and private conflict: most restrictive", response: ["Cache-Control: public, private, max-age=60"],
        reason: .isPrivate),
    StoreCase(
        rfc: "9111 §5.2.2.7", note: "qualified private stores the rest",
        response: ["Cache-Control: private=\"x-user\", max-age=60", "X-User: bob"], reason: nil),
    StoreCase(
        rfc: "9111 §3.5", note: "Authorization without permission", request: ["Authorization: Bearer x"],
        response: ["Cache-Control: max-age=60"], reason: .authorization),
    StoreCase(
        rfc: "9111 §3.5", note: "Authorization with public", request: ["Authorization: Bearer x"],
        response: ["Cache-Control: public, max-age=60"], reason: nil),
    StoreCase(
        rfc: "9111 §3.5", note: "Authorization with s-maxage", request: ["Authorization: Bearer x"],
        response: ["Cache-Control: s-maxage=60"], reason: nil),
    StoreCase(
        rfc: "9111 §3.5", note: "Authorization with must-revalidate", request: ["Authorization: Bearer x"],
        response: ["Cache-Control: must-revalidate, max-age=60"], reason: nil),
    StoreCase(
        rfc: "9111 §3.5", note: "route exception for authorization", request: ["Authorization: Bearer x"],
        response: ["Cache-Control: max-age=60"], policy: RoutePolicy(ignore: ["Authorization"]), reason: nil),
    StoreCase(
        rfc: "9111 §4.1", note: "Vary: * is never stored", response: ["Cache-Control: max-age=60", "Vary: Accept, *"], reason: .varyStar),
    StoreCase(
        rfc: "9111 §4.1", note: "Vary by a named field is fine", response: ["Cache-Control: max-age=60", "Vary: Accept-Encoding"],
        reason: nil),
    StoreCase(
        rfc: "paca §3", note: "Set-Cookie is not stored by default", response: ["Cache-Control: max-age=60", "Set-Cookie: a=b"],
        reason: .setCookie),
    StoreCase(
        rfc: "paca §3", note: "Set-Cookie with route exception", response: ["Cache-Control: max-age=60", "Set-Cookie: a=b"],
        policy: RoutePolicy(ignore: ["set-cookie"]), reason: nil),
    StoreCase(
        rfc: "paca §3", note: "body larger than the route limit", response: ["Cache-Control: max-age=60"], body: 1001,
        policy: RoutePolicy(maxBodyBytes: 1000), reason: .tooLarge),
    StoreCase(
        rfc: "paca §3", note: "body exactly at the limit", response: ["Cache-Control: max-age=60"], body: 1000,
        policy: RoutePolicy(maxBodyBytes: 1000), reason: nil),
    StoreCase(rfc: "9111 §3", note: "200 without any freshness or validator", response: [], reason: .noFreshness),
    StoreCase(rfc: "9111 §4.2.1", note: "max-age=0 and no validator", response: ["Cache-Control: max-age=0"], reason: .noFreshness),
    StoreCase(
        rfc: "9111 §4.3.1", note: "max-age=0 with ETag can be revalidated", response: ["Cache-Control: max-age=0", "ETag: \"v1\""],
        reason: nil),
    StoreCase(
        rfc: "9111 §4.2.2", note: "200 with Last-Modified only: heuristic",
        response: ["Date: \(t0Date)", "Last-Modified: \(date(-86_400))"], reason: nil),
    StoreCase(rfc: "9111 §3", note: "500 without explicit freshness", status: 500, response: ["ETag: \"x\""], reason: .status),
    StoreCase(rfc: "9111 §3", note: "500 with max-age", status: 500, response: ["Cache-Control: max-age=5"], reason: nil),
    StoreCase(
        rfc: "9111 §3", note: "302 with public only: no freshness", status: 302, response: ["Cache-Control: public"], reason: .noFreshness),
    StoreCase(rfc: "9111 §3", note: "302 with Expires", status: 302, response: ["Date: \(t0Date)", "Expires: \(date(60))"], reason: nil),
    StoreCase(rfc: "9110 §15.1", note: "404 with route ttl", status: 404, response: [], policy: RoutePolicy(ttl: 30), reason: nil),
    StoreCase(
        rfc: "9110 §15.1", note: "503 route ttl does not apply", status: 503, response: [], policy: RoutePolicy(ttl: 30), reason: .status),
    StoreCase(
        rfc: "9111 §5.2.2.4", note: "no-cache without validator", response: ["Cache-Control: no-cache, max-age=60"],
        reason: .noCacheWithoutValidator),
    StoreCase(
        rfc: "9111 §5.2.2.4", note: "no-cache with validator is stored", response: ["Cache-Control: no-cache", "ETag: \"a\""], reason: nil),
    StoreCase(
        rfc: "9111 §4.2.3", note: "already stale on arrival, no validator", response: ["Cache-Control: max-age=60", "Age: 120"],
        reason: .noFreshness),
    StoreCase(
        rfc: "5861 §4", note: "max-age=0 with stale-if-error is kept", response: ["Cache-Control: max-age=0, stale-if-error=60"],
        reason: nil),
]

@Test("Storability reasons", arguments: storeCases)
func storability(_ c: StoreCase) {
    let d = evaluateStorability(
        method: c.method, requestHeaders: fields(c.request), status: c.status, responseHeaders: fields(c.response),
        bodyBytes: c.body, policy: c.policy, requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    #expect(d.reason == c.reason, "RFC \(c.rfc): \(d)")
}

/// Freshness and plan details.
struct PlanCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var status = 200
    var request: [String] = []
    let response: [String]
    var policy = RoutePolicy()
    var requestTime: Int64 = t0ms
    var responseTime: Int64 = t0ms
    let check: @Sendable (StoragePlan) -> Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let planCases: [PlanCase] = [
    PlanCase(rfc: "9111 §4.2.1", note: "s-maxage beats max-age", response: ["Cache-Control: max-age=60, s-maxage=30"]) {
        $0.freshnessLifetimeMillis == 30_000 && $0.mustRevalidate
    },
    PlanCase(
        rfc: "9111 §4.2.1", note: "max-age beats Expires",
        response: ["Date: \(t0Date)", "Expires: \(date(600))", "Cache-Control: max-age=60"]
    ) { $0.freshnessLifetimeMillis == 60_000 },
    PlanCase(rfc: "9111 §5.3", note: "Expires minus Date", response: ["Date: \(t0Date)", "Expires: \(date(600))"]) {
        $0.freshnessLifetimeMillis == 600_000
    },
    PlanCase(
        rfc: "9111 §5.3", note: "Expires relative to Date, not to receipt",
        response: ["Date: \(date(-100))", "Expires: \(date(500))", "ETag: \"e\""], responseTime: t0ms
    ) { $0.freshnessLifetimeMillis == 600_000 && $0.correctedInitialAgeMillis == 100_000 },
    PlanCase(rfc: "9111 §5.3", note: "invalid Expires means already expired", response: ["Expires: 0", "ETag: \"e\""]) {
        $0.freshnessLifetimeMillis == 0
    },
    PlanCase(
        rfc: "9111 §5.3", note: "a future Expires in a malformed date (UTC zone) is already expired",
        response: ["Date: \(t0Date)", "Expires: Thu, 18 Aug 2050 02:01:18 UTC", "ETag: \"e\""]
    ) { $0.freshnessLifetimeMillis == 0 },
    PlanCase(
        rfc: "9111 §5.3", note: "a future Expires with doubled spaces is already expired",
        response: ["Date: \(t0Date)", "Expires: Thu, 18  Aug  2050 02:01:18 GMT", "ETag: \"e\""]
    ) { $0.freshnessLifetimeMillis == 0 },
    PlanCase(
        rfc: "9111 §4.2.1", note: "two different Expires lines: stale",
        response: ["Date: \(t0Date)", "Expires: \(date(60))", "Expires: \(date(90))", "ETag: \"e\""]
    ) { $0.freshnessLifetimeMillis == 0 },
    PlanCase(rfc: "9111 §5.3", note: "Expires in the past", response: ["Date: \(t0Date)", "Expires: \(date(-60))", "ETag: \"e\""]) {
        $0.freshnessLifetimeMillis == 0
    },
    PlanCase(rfc: "9110 §6.6.1", note: "missing Date uses response time", response: ["Expires: \(date(30))"], responseTime: t0ms) {
        $0.freshnessLifetimeMillis == 30_000 && $0.dateMillis == t0ms
    },
    PlanCase(
        rfc: "9111 §4.2.2", note: "heuristic is 10% of Date - Last-Modified",
        response: ["Date: \(t0Date)", "Last-Modified: \(date(-10_000))"]
    ) { $0.freshnessLifetimeMillis == 1_000_000 && $0.heuristic },
    PlanCase(
        rfc: "9111 §4.2.2", note: "heuristic capped at one day", response: ["Date: \(t0Date)", "Last-Modified: \(date(-100 * 86_400))"]
    ) { $0.freshnessLifetimeMillis == 86_400_000 },
    PlanCase(
        rfc: "9111 §4.2.2", note: "heuristic fraction and cap from the route",
        response: ["Date: \(t0Date)", "Last-Modified: \(date(-1000))"], policy: RoutePolicy(heuristicFraction: 0.5, heuristicCap: 100)
    ) { $0.freshnessLifetimeMillis == 100_000 },
    PlanCase(
        rfc: "9111 §4.2.2", note: "NaN fraction counts as 0", response: ["Date: \(t0Date)", "Last-Modified: \(date(-1000))"],
        policy: RoutePolicy(heuristicFraction: .nan)
    ) { $0.freshnessLifetimeMillis == 0 && $0.lastModified != nil },
    PlanCase(
        rfc: "9111 §4.2.2", note: "Last-Modified in the future gives 0", response: ["Date: \(t0Date)", "Last-Modified: \(date(1000))"]
    ) { $0.freshnessLifetimeMillis == 0 },
    PlanCase(
        rfc: "9111 §4.2.2", note: "public makes a 302 heuristically cacheable", status: 302,
        response: ["Cache-Control: public", "Date: \(t0Date)", "Last-Modified: \(date(-1000))"]
    ) { $0.freshnessLifetimeMillis == 100_000 },
    PlanCase(
        rfc: "9111 §3.1", note: "stripped fields",
        response: [
            "Cache-Control: max-age=5, private=\"X-User\", no-cache=\"X-Debug\"", "Connection: close, X-Hop", "X-Hop: 1", "Proxy-Foo: 1",
            "Set-Cookie: a=b",
        ], policy: RoutePolicy(ignore: ["set-cookie"])
    ) {
        ["set-cookie", "x-user", "x-debug", "x-hop", "connection", "proxy-foo", "proxy-authenticate", "transfer-encoding", "age"]
            .allSatisfy($0.strippedFieldNames.contains)
            && !$0.strippedFieldNames.contains("cache-control")
    },
    PlanCase(
        rfc: "paca §3", note: "storage lifetime adds keep when validators exist",
        response: ["Cache-Control: max-age=60, stale-while-revalidate=30, stale-if-error=300", "ETag: \"a\""]
    ) {
        $0.storageLifetimeMillis == 60_000 + 300_000 + 3_600_000 && $0.staleIfErrorMillis == 300_000
            && $0.staleWhileRevalidateMillis == 30_000
    },
    PlanCase(
        rfc: "paca §3", note: "storage lifetime without validators", response: ["Cache-Control: max-age=60, stale-while-revalidate=30"]
    ) { $0.storageLifetimeMillis == 90_000 },
    PlanCase(rfc: "paca §3", note: "storage lifetime counts the age at receipt", response: ["Cache-Control: max-age=60", "Age: 20"]) {
        $0.storageLifetimeMillis == 40_000 && $0.freshUntilMillis == t0ms + 40_000
    },
    PlanCase(
        rfc: "paca §3", note: "route windows apply without origin restrictions", response: ["Cache-Control: max-age=60"],
        policy: RoutePolicy(staleWhileRevalidate: 10, staleIfError: 20)
    ) { $0.staleWhileRevalidateMillis == 10_000 && $0.staleIfErrorMillis == 20_000 },
    PlanCase(
        rfc: "paca §3", note: "origin's own windows win over the route's",
        response: ["Cache-Control: max-age=60, stale-while-revalidate=5"], policy: RoutePolicy(staleWhileRevalidate: 10, staleIfError: 20)
    ) { $0.staleWhileRevalidateMillis == 5_000 && $0.staleIfErrorMillis == 20_000 },
    PlanCase(
        rfc: "9111 §4.2.4", note: "must-revalidate disables every stale window",
        response: ["Cache-Control: max-age=60, must-revalidate, stale-if-error=60"], policy: RoutePolicy(staleWhileRevalidate: 10)
    ) { $0.staleWhileRevalidateMillis == 0 && $0.staleIfErrorMillis == 0 && $0.mustRevalidate },
    PlanCase(
        rfc: "9111 §5.2.2.8", note: "proxy-revalidate disables stale windows", response: ["Cache-Control: max-age=60, proxy-revalidate"],
        policy: RoutePolicy(staleIfError: 10)
    ) { $0.staleIfErrorMillis == 0 && $0.mustRevalidate },
    PlanCase(
        rfc: "9111 §5.2.2.10", note: "s-maxage: no route windows, origin's kept",
        response: ["Cache-Control: s-maxage=60, stale-while-revalidate=30"], policy: RoutePolicy(staleIfError: 10)
    ) { $0.staleWhileRevalidateMillis == 30_000 && $0.staleIfErrorMillis == 0 && $0.mustRevalidate },
    PlanCase(
        rfc: "9111 §5.2.2.4", note: "no-cache: always revalidate, no windows",
        response: ["Cache-Control: no-cache, max-age=60", "ETag: \"a\""], policy: RoutePolicy(staleWhileRevalidate: 10)
    ) { $0.alwaysRevalidate && $0.staleWhileRevalidateMillis == 0 && $0.etag == "\"a\"" },
    PlanCase(
        rfc: "9111 §4.3.1", note: "invalid Last-Modified is not a validator",
        response: ["Cache-Control: max-age=5", "Last-Modified: yesterday"]
    ) { $0.lastModified == nil && !$0.hasValidator },
    PlanCase(rfc: "9111 §1.2.2", note: "huge max-age clamps to 2^31 s", response: ["Cache-Control: max-age=999999999999999"]) {
        $0.freshnessLifetimeMillis == 2_147_483_648_000
    },
]

@Test("Storage plans", arguments: planCases)
func storagePlan(_ c: PlanCase) {
    let d = evaluateStorability(
        method: "GET", requestHeaders: fields(c.request), status: c.status, responseHeaders: fields(c.response),
        bodyBytes: 1, policy: c.policy, requestTimeMillis: c.requestTime, responseTimeMillis: c.responseTime)
    guard let plan = d.plan else {
        Issue.record("RFC \(c.rfc): expected store, got \(d)")
        return
    }
    #expect(c.check(plan), "RFC \(c.rfc): \(plan)")
}
