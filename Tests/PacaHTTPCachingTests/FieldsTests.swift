import PacaHTTPCaching
import Testing

struct FieldCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let check: @Sendable () -> Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let fieldCases: [FieldCase] = [
    FieldCase(rfc: "9110 §5.1", note: "values() is case-insensitive and ordered") {
        h("X-A: 1", "x-a: 2", "Y: 3").values("X-A") == ["1", "2"]
    },
    FieldCase(rfc: "9110 §5.1", note: "first() returns the first line") { h("Vary: a", "VARY: b").first("vary") == "a" },
    FieldCase(rfc: "9110 §5.1", note: "first() of an absent field is nil") { h("A: 1").first("b") == nil },
    FieldCase(rfc: "9110 §5.6.1", note: "list members split outside quotes") {
        h("X: a, \"b,c\" ,, d").listMembers("x") == ["a", "\"b,c\"", "d"]
    },
    FieldCase(rfc: "9110 §7.6.1", note: "hop-by-hop names include Connection-listed fields") {
        HopByHop.names(in: h("Connection: X-Foo, close", "X-Foo: 1", "TE: trailers", "Proxy-Thing: 1")) == [
            "connection", "x-foo", "close", "te", "proxy-thing",
        ]
    },
    FieldCase(rfc: "9110 §7.6.1", note: "Proxy-* is hop-by-hop in paca") { HopByHop.isHopByHop("proxy-authorization") },
    FieldCase(rfc: "9110 §8.8.3", note: "entity tag parsing") {
        EntityTag(parsing: "W/\"x\"") == EntityTag(opaque: "x", isWeak: true) && EntityTag(parsing: "\"x") == nil
            && EntityTag(parsing: "\"a\"b\"") == nil && EntityTag(parsing: "") == nil
    },
    FieldCase(rfc: "9110 §8.8.3.2", note: "strong comparison rejects weak tags") {
        !EntityTag(opaque: "x", isWeak: true).stronglyMatches(EntityTag(opaque: "x", isWeak: false))
            && EntityTag(opaque: "x", isWeak: false).stronglyMatches(EntityTag(opaque: "x", isWeak: false))
    },
    FieldCase(rfc: "9111 §1.2.2", note: "delta-seconds accepts digits only") {
        DeltaSeconds.parse("12") == 12 && DeltaSeconds.parse("+12") == nil && DeltaSeconds.parse("1 2") == nil
            && DeltaSeconds.parse("\"7\"") == 7 && DeltaSeconds.parse("") == nil
    },
    FieldCase(rfc: "9111 §5.2.1.7", note: "only-if-cached needs a servable entry") {
        onlyIfCachedRequires504(nil) && onlyIfCachedRequires504(.revalidate)
            && !onlyIfCachedRequires504(.fresh(remainingMillis: 1)) && !onlyIfCachedRequires504(.staleAcceptable(staleMillis: 1))
    },
    FieldCase(rfc: "9111 §5.2.1.4", note: "client no-cache forces a forward only when honoured") {
        let r = RequestDirectives(headers: h("Cache-Control: no-cache"))
        return r.forcesRevalidation(honorClientNoCache: true) && !r.forcesRevalidation(honorClientNoCache: false)
    },
    FieldCase(rfc: "9111 §5.2.1.1", note: "client max-age=0 forces a forward") {
        RequestDirectives(headers: h("Cache-Control: max-age=0")).forcesRevalidation(honorClientNoCache: true)
    },
    FieldCase(rfc: "9110 §5.6.7", note: "RFC 850 two-digit year: more than 50 years ahead is the past") {
        let now2024 = t0
        return HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", relativeTo: now2024) == 784_111_777
            && HTTPDate.parse("Monday, 01-Jan-74 00:00:00 GMT", relativeTo: now2024).map { HTTPDate.format(unixSeconds: $0) }
                == "Mon, 01 Jan 2074 00:00:00 GMT"
            && HTTPDate.parse("Monday, 01-Jan-75 00:00:00 GMT", relativeTo: now2024).map { HTTPDate.format(unixSeconds: $0) }
                == "Wed, 01 Jan 1975 00:00:00 GMT"
    },
    FieldCase(rfc: "9111 §3.1", note: "fieldsToStore drops stripped fields and keeps order") {
        let headers = h("Content-Type: a", "Set-Cookie: x", "Cache-Control: max-age=9", "Connection: close", "X: 1")
        let plan = evaluateStorability(
            method: "GET", requestHeaders: [], status: 200, responseHeaders: headers, bodyBytes: 0,
            policy: RoutePolicy(ignore: ["set-cookie"]), requestTimeMillis: 0, responseTimeMillis: 0
        ).plan
        return plan?.fieldsToStore(headers) == h("Content-Type: a", "Cache-Control: max-age=9", "X: 1")
    },
]

@Test("Fields, tokens and helpers", arguments: fieldCases)
func fieldHelpers(_ c: FieldCase) {
    #expect(c.check(), "RFC \(c.rfc)")
}

@Test("Every not-storable reason has a storability case, raw values as in Cache-Status (RFC 9211)")
func everyReasonCovered() {
    let covered = Set(storeCases.compactMap(\.reason))
    #expect(covered == Set(NotStorableReason.allCases))
    #expect(NotStorableReason.noStore.rawValue == "no-store")
    #expect(NotStorableReason.isPrivate.rawValue == "private")
    #expect(NotStorableReason.setCookie.rawValue == "set-cookie")
    #expect(NotStorableReason.varyStar.rawValue == "vary-star")
    #expect(NotStorableReason.noFreshness.rawValue == "no-ttl")
    #expect(NotStorableReason.tooLarge.rawValue == "too-large")
}
