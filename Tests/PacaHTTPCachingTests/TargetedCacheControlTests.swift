import PacaHTTPCaching
import Testing

/// Issue 11, class 1: targeted cache control (RFC 9213). `Paca-Cache-Control` and
/// `CDN-Cache-Control` take the place of `Cache-Control` and `Expires` for paca's decisions.

/// What paca's shared cache decides for a response.
enum TargetedExpectation: Sendable, Equatable {
    /// Stored with this freshness (seconds) and these flags and windows (seconds).
    case stored(lifetime: Int64, mustRevalidate: Bool, alwaysRevalidate: Bool, swr: Int64, sie: Int64)
    /// Not stored, for this reason.
    case notStored(NotStorableReason)
}

func stored(
    _ lifetime: Int64, mustRevalidate: Bool = false, alwaysRevalidate: Bool = false, swr: Int64 = 0, sie: Int64 = 0
) -> TargetedExpectation {
    .stored(lifetime: lifetime, mustRevalidate: mustRevalidate, alwaysRevalidate: alwaysRevalidate, swr: swr, sie: sie)
}

struct TargetedCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let lines: [String]
    var targets: [String] = TargetedCacheControl.defaultTargets
    var ttl: Int64?
    var ttlSource: TTLSource = .cacheControlFirst
    let expect: TargetedExpectation
    let note: String
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let targetedCases: [TargetedCase] = [
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60"], expect: stored(60),
        note: "a targeted max-age overrides the Cache-Control max-age"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60", "Paca-Cache-Control: max-age=120"],
        expect: stored(120), note: "the first present target of the list wins: Paca-Cache-Control before CDN-Cache-Control"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["CDN-Cache-Control: max-age=60", "Paca-Cache-Control: max-age=120"],
        targets: ["cdn-cache-control", "paca-cache-control"], expect: stored(60), note: "the route's order decides"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: max-age=10", "Paca-Cache-Control: max-age=120"], targets: ["cdn-cache-control"],
        expect: stored(10), note: "a targeted field not on the list changes nothing"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60"], targets: [], expect: stored(10),
        note: "an empty target list turns targeted fields off"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.5", lines: ["Cache-Control: max-age=60", "CDN-Cache-Control: no-store"],
        expect: .notStored(.noStore), note: "no-store in the target"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: no-store", "CDN-Cache-Control: max-age=60"], expect: stored(60),
        note: "Cache-Control's no-store is ignored when a target is used (it still reaches the client)"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.7", lines: ["Cache-Control: max-age=60", "CDN-Cache-Control: private"],
        expect: .notStored(.isPrivate), note: "private in the target"),
    TargetedCase(
        rfc: "9213 §2.2", lines: ["Cache-Control: private", "CDN-Cache-Control: max-age=60"], expect: stored(60),
        note: "Cache-Control's private is ignored when a target is used"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.4", lines: ["ETag: \"e\"", "Cache-Control: max-age=60", "CDN-Cache-Control: no-cache"],
        expect: stored(0, alwaysRevalidate: true), note: "no-cache in the target: stored, validated on every use"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.4", lines: ["Cache-Control: max-age=60", "CDN-Cache-Control: no-cache"],
        expect: .notStored(.noCacheWithoutValidator), note: "no-cache in the target without a validator"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.10", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60, s-maxage=30"],
        expect: stored(30, mustRevalidate: true), note: "s-maxage in the target is honoured as in Cache-Control (and forbids stale)"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.2.2.2", lines: ["CDN-Cache-Control: max-age=60, must-revalidate"],
        expect: stored(60, mustRevalidate: true), note: "must-revalidate in the target"),
    TargetedCase(
        rfc: "9213 §2.2, 5861",
        lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60, stale-while-revalidate=30, stale-if-error=300"],
        expect: stored(60, swr: 30, sie: 300), note: "stale-while-revalidate and stale-if-error in the target"),
    TargetedCase(
        rfc: "9213 §2.2, 5861", lines: ["Cache-Control: max-age=10, stale-if-error=300", "CDN-Cache-Control: max-age=60"],
        expect: stored(60), note: "Cache-Control's stale-if-error is ignored when a target is used"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60,,"], expect: stored(10),
        note: "an invalid Dictionary is ignored: Cache-Control applies"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: Max-Age=60"], expect: stored(10),
        note: "an upper-case key is not an sf-dictionary key: ignored"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60", "Paca-Cache-Control: max-age=\"120"],
        expect: stored(60), note: "the first valid target wins: an invalid Paca-Cache-Control gives way to CDN-Cache-Control"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60", "Paca-Cache-Control: "],
        expect: stored(60), note: "an empty target is skipped"),
    TargetedCase(
        rfc: "9213 §2.1, 8941 §4.2", lines: ["CDN-Cache-Control: max-age=60", "CDN-Cache-Control: must-revalidate"],
        expect: stored(60, mustRevalidate: true), note: "several lines combine into one Dictionary"),
    TargetedCase(
        rfc: "9213 §2.1, 8941 §4.2.2", lines: ["CDN-Cache-Control: max-age=10, max-age=60"], expect: stored(60),
        note: "a repeated key: the last value counts (not the Cache-Control conflict rule)"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["ETag: \"e\"", "Cache-Control: max-age=100", "CDN-Cache-Control: max-age=\"60\""], expect: stored(0),
        note: "a String max-age is no delta-seconds: stale, as an invalid Cache-Control max-age"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["ETag: \"e\"", "Cache-Control: max-age=100", "CDN-Cache-Control: max-age=-1"], expect: stored(0),
        note: "a negative max-age: stale"),
    TargetedCase(
        rfc: "9213 §2.1", lines: ["ETag: \"e\"", "CDN-Cache-Control: max-age=60;foo=1, no-store=?0"], expect: stored(60),
        note: "parameters are ignored and a Boolean false is no directive"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.3", lines: ["Date: \(t0Date)", "Expires: \(date(100))", "CDN-Cache-Control: max-age=60"],
        expect: stored(60), note: "Expires is ignored when a target gives max-age"),
    TargetedCase(
        rfc: "9213 §2.2, 9111 §5.3",
        lines: ["Date: \(t0Date)", "ETag: \"e\"", "Expires: \(date(100))", "CDN-Cache-Control: must-revalidate"],
        expect: stored(0, mustRevalidate: true), note: "Expires is ignored even when the target gives no lifetime"),
    TargetedCase(
        rfc: "9213 §2.1, 9111 §5.3", lines: ["Date: \(t0Date)", "Expires: \(date(100))", "CDN-Cache-Control: max-age=,"],
        expect: stored(100), note: "an invalid target: Expires applies again"),
    TargetedCase(
        rfc: "9213 §2.2 (ttl_source)", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: public"], ttl: 300, expect: stored(300),
        note: "cache-control-first: a target without lifetime lets the route ttl apply, Cache-Control's max-age is ignored"),
    TargetedCase(
        rfc: "9213 §2.2 (ttl_source)", lines: ["CDN-Cache-Control: max-age=60"], ttl: 300, ttlSource: .routeFirst, expect: stored(300),
        note: "route-first: the route ttl overrides the target's max-age"),
    TargetedCase(
        rfc: "9213 §2.2 (ttl_source)", lines: ["CDN-Cache-Control: s-maxage=60"], ttl: 300, ttlSource: .routeFirst,
        expect: stored(60, mustRevalidate: true), note: "route-first: the target's s-maxage still wins"),
    TargetedCase(
        rfc: "9213 §2.2 (ttl_source)", lines: ["Cache-Control: max-age=10", "CDN-Cache-Control: max-age=60"], ttl: 300,
        ttlSource: .routeOnly, expect: stored(300), note: "route-only: always the route ttl"),
    TargetedCase(
        rfc: "9213 §2.2 (ttl_source)", lines: ["Cache-Control: max-age=60", "CDN-Cache-Control: no-store"], ttl: 300,
        ttlSource: .routeOnly, expect: .notStored(.noStore), note: "route-only never stores the target's no-store"),
]

@Test("Targeted cache control decides storability and freshness", arguments: targetedCases)
func targetedCacheControl(_ c: TargetedCase) {
    let policy = RoutePolicy(ttl: c.ttl, ttlSource: c.ttlSource, cacheControlTargets: c.targets)
    let decision = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200, responseHeaders: fields(c.lines), bodyBytes: 0, policy: policy,
        requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    let actual: TargetedExpectation
    switch decision {
    case .store(let plan):
        actual = .stored(
            lifetime: plan.freshnessLifetimeMillis / 1000, mustRevalidate: plan.mustRevalidate, alwaysRevalidate: plan.alwaysRevalidate,
            swr: plan.staleWhileRevalidateMillis / 1000, sie: plan.staleIfErrorMillis / 1000)
    case .doNotStore(let reason):
        actual = .notStored(reason)
    }
    #expect(actual == c.expect, "RFC \(c.rfc)")
}

@Test("RFC 9213 §2.2, 9111 §5.2.2.7: a qualified private in the target strips the named field from the stored copy")
func targetedQualifiedPrivate() {
    let decision = evaluateStorability(
        method: "GET", requestHeaders: [], status: 200,
        responseHeaders: h("CDN-Cache-Control: max-age=60, private=\"x-secret\"", "X-Secret: s"), bodyBytes: 0,
        policy: RoutePolicy(), requestTimeMillis: t0ms, responseTimeMillis: t0ms)
    #expect(decision.plan?.strippedFieldNames.contains("x-secret") == true)
}

@Test("RFC 9213 §2.2: the selected field is reported, and Cache-Control is the fallback")
func selectedDirectivesName() {
    let both = h("Cache-Control: max-age=1", "CDN-Cache-Control: max-age=2", "Paca-Cache-Control: bad=(")
    let selected = ResponseCacheDirectives(responseHeaders: both, targets: TargetedCacheControl.defaultTargets)
    #expect(selected.targetedField == "cdn-cache-control")
    #expect(selected.cacheControl.maxAge == 2)
    #expect(!selected.honoursExpires)
    let fallback = ResponseCacheDirectives(responseHeaders: both, targets: [])
    #expect(fallback.targetedField == nil)
    #expect(fallback.cacheControl.maxAge == 1)
}

struct DictionaryCase: CustomTestStringConvertible, Sendable {
    let value: String
    let valid: Bool
    var testDescription: String { "RFC 8941 §4.2.2: \(value) \(valid ? "parses" : "fails")" }
}

let dictionaryCases: [DictionaryCase] = [
    DictionaryCase(value: "max-age=60", valid: true),
    DictionaryCase(value: "max-age=60, no-store", valid: true),
    DictionaryCase(value: "  max-age=60 ,\tprivate  ", valid: true),
    DictionaryCase(value: "private=\"a, b\"", valid: true),
    DictionaryCase(value: "no-cache=(\"a\" b)", valid: true),
    DictionaryCase(value: "a=1.5, b=?1, c=:AAEC:, d=tok/en;p=1", valid: true),
    DictionaryCase(value: "max-age=60,", valid: false),
    DictionaryCase(value: "max-age=", valid: false),
    DictionaryCase(value: "Max-Age=60", valid: false),
    DictionaryCase(value: "max-age=60 no-store", valid: false),
    DictionaryCase(value: "a=\"unterminated", valid: false),
    DictionaryCase(value: "a=1234567890123456", valid: false),
    DictionaryCase(value: "a=1.2345", valid: false),
    DictionaryCase(value: "a=?2", valid: false),
    DictionaryCase(value: "a=(1 2", valid: false),
]

@Test("Structured-field Dictionary parsing", arguments: dictionaryCases)
func structuredDictionary(_ c: DictionaryCase) {
    #expect((StructuredFieldDictionary(fieldValues: [c.value]) != nil) == c.valid)
}
