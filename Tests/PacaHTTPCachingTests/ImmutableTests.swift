import PacaHTTPCaching
import Testing

/// Issue 11, class 9: a reload of a fresh `immutable` response is answered from the cache.

struct ImmutableCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let request: [String]
    var immutable = true
    var honorClientNoCache = true
    /// Milliseconds of freshness left; negative when stale.
    var remaining: Int64 = 30_000
    let expectFresh: Bool
    var testDescription: String { "RFC \(rfc): \(note) \(request)" }
}

let immutableCases: [ImmutableCase] = [
    ImmutableCase(
        rfc: "8246 §2", note: "reload with no-cache of a fresh immutable entry", request: ["Cache-Control: no-cache"], expectFresh: true),
    ImmutableCase(
        rfc: "8246 §2", note: "reload with max-age=0 of a fresh immutable entry", request: ["Cache-Control: max-age=0"],
        expectFresh: true),
    ImmutableCase(rfc: "8246 §2, 9111 §5.4", note: "Pragma: no-cache reload", request: ["Pragma: no-cache"], expectFresh: true),
    ImmutableCase(
        rfc: "8246 §2", note: "not immutable: a reload revalidates", request: ["Cache-Control: no-cache"], immutable: false,
        expectFresh: false),
    ImmutableCase(
        rfc: "8246 §2", note: "immutable but stale: a reload revalidates", request: ["Cache-Control: max-age=0"], remaining: -1000,
        expectFresh: false),
    ImmutableCase(
        rfc: "9111 §5.2.1.1", note: "max-age=N younger than the entry is not a reload", request: ["Cache-Control: max-age=5"],
        expectFresh: false),
    ImmutableCase(
        rfc: "9111 §5.2.1.3", note: "min-fresh beyond the remaining freshness still revalidates", request: ["Cache-Control: min-fresh=60"],
        expectFresh: false),
    ImmutableCase(rfc: "8246 §2", note: "no request directives: fresh as always", request: [], expectFresh: true),
]

@Test("immutable and client reloads", arguments: immutableCases)
func immutableReload(_ c: ImmutableCase) {
    let lifetime: Int64 = 60_000
    let d = evaluateLookup(
        freshnessLifetimeMillis: lifetime, currentAgeMillis: lifetime - c.remaining, mustRevalidate: false, alwaysRevalidate: false,
        staleWhileRevalidateMillis: 0, request: RequestDirectives(headers: fields(c.request)).cacheControl,
        honorClientNoCache: c.honorClientNoCache, immutable: c.immutable)
    if c.expectFresh {
        #expect(d == .fresh(remainingMillis: c.remaining), "RFC \(c.rfc)")
    } else {
        #expect(d == .revalidate, "RFC \(c.rfc)")
    }
}

@Test("A response's immutable directive is parsed (RFC 8246 §2)")
func immutableDirectiveParsed() {
    #expect(CacheControl(fieldValues: ["public, max-age=31536000, immutable"]).immutable)
    #expect(CacheControl(fieldValues: ["IMMUTABLE"]).immutable)
    #expect(!CacheControl(fieldValues: ["max-age=60"]).immutable)
}
