import PacaHTTPCaching
import Testing

/// Issue 11, class 11: serving stale when the origin cannot be reached (RFC 9111 §4.2.4) under
/// a route's `stale_if_unreachable` bound.

struct UnreachableCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    /// Freshness lifetime and current age, seconds.
    var lifetime: Int64 = 10
    let age: Int64
    var bound: Int64? = 3600
    var mustRevalidate = false
    var alwaysRevalidate = false
    var request: [String] = []
    let serves: Bool
    let note: String
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let unreachableCases: [UnreachableCase] = [
    UnreachableCase(rfc: "9111 §4.2.4", age: 70, serves: true, note: "stale by a minute, within an hour's bound"),
    UnreachableCase(rfc: "9111 §4.2.4", age: 3610, serves: true, note: "stale exactly by the bound"),
    UnreachableCase(rfc: "9111 §4.2.4", age: 3611, serves: false, note: "stale beyond the bound"),
    UnreachableCase(rfc: "9111 §4.2.4", age: 70, bound: nil, serves: false, note: "off unless the route sets it"),
    UnreachableCase(rfc: "9111 §4.2.4", age: 70, bound: 0, serves: false, note: "a zero bound is off"),
    UnreachableCase(
        rfc: "9111 §4.2.4, §5.2.2.2", age: 70, mustRevalidate: true, serves: false,
        note: "never with must-revalidate (or proxy-revalidate, s-maxage)"),
    UnreachableCase(rfc: "9111 §4.2.4, §5.2.2.4", age: 70, alwaysRevalidate: true, serves: false, note: "never with no-cache"),
    UnreachableCase(rfc: "9111 §5.2.1.4", age: 70, request: ["Cache-Control: no-cache"], serves: false, note: "not for a request no-cache"),
    UnreachableCase(rfc: "9111 §5.4", age: 70, request: ["Pragma: no-cache"], serves: false, note: "not for Pragma: no-cache"),
    UnreachableCase(rfc: "9111 §5.2.1.1", age: 70, request: ["Cache-Control: max-age=0"], serves: false, note: "not for max-age=0"),
    UnreachableCase(
        rfc: "9111 §5.2.1.1", age: 70, request: ["Cache-Control: max-age=60"], serves: false, note: "not older than the request's max-age"),
    UnreachableCase(
        rfc: "9111 §5.2.1.1", age: 70, request: ["Cache-Control: max-age=100"], serves: true, note: "within the request's max-age"),
    UnreachableCase(
        rfc: "9111 §5.2.1.2", age: 70, request: ["Cache-Control: max-stale=30"], serves: false, note: "beyond the request's max-stale"),
    UnreachableCase(
        rfc: "9111 §5.2.1.2", age: 70, request: ["Cache-Control: max-stale=60"], serves: true, note: "within the request's max-stale"),
    UnreachableCase(
        rfc: "9111 §5.2.1.3", age: 70, request: ["Cache-Control: min-fresh=1"], serves: false, note: "stale cannot meet min-fresh"),
]

@Test("stale-if-unreachable: when the origin is out of reach", arguments: unreachableCases)
func staleIfUnreachable(_ c: UnreachableCase) {
    let served = canServeStaleIfUnreachable(
        freshnessLifetimeMillis: c.lifetime * 1000, currentAgeMillis: c.age * 1000, boundSeconds: c.bound,
        mustRevalidate: c.mustRevalidate, alwaysRevalidate: c.alwaysRevalidate,
        request: RequestDirectives(headers: fields(c.request)).cacheControl)
    #expect(served == c.serves, "RFC \(c.rfc)")
}

struct UnreachableStorageCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let lines: [String]
    let bound: Int64?
    /// The storage lifetime in seconds; `nil` when not stored.
    let storage: Int64?
    let note: String
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let unreachableStorageCases: [UnreachableStorageCase] = [
    UnreachableStorageCase(
        rfc: "9111 §4.2.4", lines: ["Cache-Control: max-age=10"], bound: nil, storage: 10, note: "no bound: freshness only"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4", lines: ["Cache-Control: max-age=10"], bound: 3600, storage: 3610, note: "kept for freshness plus the bound"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4", lines: ["Cache-Control: max-age=10, stale-if-error=7200"], bound: 3600, storage: 7210,
        note: "the longest window counts"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4", lines: ["ETag: \"e\"", "Cache-Control: max-age=10"], bound: 600, storage: 4210,
        note: "plus keep for an entry with a validator"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4, §5.2.2.2", lines: ["Cache-Control: max-age=10, must-revalidate"], bound: 3600, storage: 10,
        note: "must-revalidate: the bound can never apply, so it keeps nothing longer"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4, §5.2.2.10", lines: ["Cache-Control: s-maxage=10"], bound: 3600, storage: 10,
        note: "s-maxage: the bound can never apply"),
    UnreachableStorageCase(
        rfc: "9111 §4.2.4", lines: ["Cache-Control: max-age=0"], bound: 3600, storage: nil,
        note: "the bound does not make an answer without freshness or validator storable"),
    UnreachableStorageCase(
        rfc: "9213 §2.2, 9111 §4.2.4", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60, must-revalidate"],
        bound: 3600, storage: 60, note: "a targeted must-revalidate forbids it too"),
]

@Test("stale-if-unreachable keeps entries long enough to be served", arguments: unreachableStorageCases)
func staleIfUnreachableStorage(_ c: UnreachableStorageCase) {
    let decision = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200, responseHeaders: fields(c.lines), bodyBytes: 0,
        policy: RoutePolicy(staleIfUnreachable: c.bound), requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    #expect(decision.plan.map { $0.storageLifetimeMillis / 1000 } == c.storage, "RFC \(c.rfc)")
}
