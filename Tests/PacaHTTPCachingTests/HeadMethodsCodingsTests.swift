import PacaHTTPCaching
import Testing

/// Issue 11, classes 4 (HEAD), 6 (methods) and 7 (codings): the pure rules, one table per rule,
/// each case naming the RFC section it proves.

// MARK: - Class 4: HEAD updates the stored GET (RFC 9111 §4.3.5)

struct HeadEffectCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    var status = 200
    let head: [String]
    var storedStatus = 200
    var storedETag: String? = "\"v1\""
    var storedLastModified: String? = "Mon, 01 Jan 2024 00:00:00 GMT"
    var storedLength: Int? = 5
    let expected: HeadResponseEffect
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let headEffectCases: [HeadEffectCase] = [
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "same ETag, Last-Modified and Content-Length: update",
        head: ["ETag: \"v1\"", "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT", "Content-Length: 5"], expected: .update),
    HeadEffectCase(rfc: "9111 §4.3.5", note: "no validators and no length: nothing differs, update", head: [], expected: .update),
    HeadEffectCase(rfc: "9111 §4.3.5", note: "another ETag: stale", head: ["ETag: \"v2\""], expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "weak vs strong of the same tag is a different value: stale", head: ["ETag: W/\"v1\""],
        expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "an ETag where the stored response had none: stale", head: ["ETag: \"v1\""], storedETag: nil,
        expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "a later Last-Modified: stale", head: ["Last-Modified: Tue, 02 Jan 2024 00:00:00 GMT"],
        expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "the same Last-Modified in another date format still matches",
        head: ["Last-Modified: Monday, 01-Jan-24 00:00:00 GMT"], expected: .update),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "another Content-Length: stale", head: ["ETag: \"v1\"", "Content-Length: 6"],
        expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.5", note: "a Content-Length that is not a number: stale", head: ["Content-Length: five"],
        expected: .markStale),
    HeadEffectCase(rfc: "9111 §4.3.5", note: "same ETag, no Content-Length: update", head: ["ETag: \"v1\""], expected: .update),
    HeadEffectCase(
        rfc: "9111 §4.3.5, 9110 §9.3.2", note: "a 200 where a 404 was stored: the stored one is stale", head: [], storedStatus: 404,
        storedETag: nil, storedLastModified: nil, expected: .markStale),
    HeadEffectCase(
        rfc: "9111 §4.3.4", note: "a 304 to a conditional HEAD with the stored ETag: update", status: 304, head: ["ETag: \"v1\""],
        expected: .update),
    HeadEffectCase(
        rfc: "9111 §4.3.4", note: "a 304 with another ETag does not apply: nothing", status: 304, head: ["ETag: \"v9\""],
        expected: .unchanged),
    HeadEffectCase(rfc: "9110 §15.5.11, §9.3.2", note: "410 Gone: the stored GET goes", status: 410, head: [], expected: .remove),
    HeadEffectCase(rfc: "9110 §15.5.5, §9.3.2", note: "404: the stored GET goes", status: 404, head: [], expected: .remove),
    HeadEffectCase(rfc: "9111 §4.3.5", note: "a 5xx says nothing about the stored GET", status: 503, head: [], expected: .unchanged),
    HeadEffectCase(rfc: "9111 §4.3.5", note: "a redirect says nothing about it either", status: 301, head: [], expected: .unchanged),
]

@Test("A HEAD answer updates, stales or removes the stored GET", arguments: headEffectCases)
func headEffect(_ c: HeadEffectCase) {
    let effect = headResponseEffect(
        status: c.status, headFields: fields(c.head), storedStatus: c.storedStatus, storedETag: c.storedETag,
        storedLastModified: c.storedLastModified, storedContentLength: c.storedLength)
    #expect(effect == c.expected, "RFC \(c.rfc)")
}

// MARK: - Class 6: methods (RFC 9110 §9.2.1, RFC 9111 §4.4, RFC 9110 §9.3.3)

struct MethodInvalidationCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let method: String
    var status = 200
    var location: String? = nil
    var contentLocation: String? = nil
    let expected: [String]
    var testDescription: String { "RFC \(rfc): \(method) \(status)" }
}

let methodInvalidationCases: [MethodInvalidationCase] = [
    MethodInvalidationCase(rfc: "9110 §9.2.1", method: "GET", expected: []),
    MethodInvalidationCase(rfc: "9110 §9.2.1", method: "HEAD", expected: []),
    MethodInvalidationCase(rfc: "9110 §9.2.1", method: "OPTIONS", expected: []),
    MethodInvalidationCase(rfc: "9110 §9.2.1", method: "TRACE", expected: []),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "POST", expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "PUT", status: 201, expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "DELETE", status: 204, expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "PATCH", status: 303, location: "/doc/1", expected: ["/doc", "/doc/1"]),
    MethodInvalidationCase(rfc: "9111 §4.4, 9110 §9.2.1", method: "PURGE", expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4, 9110 §9.2.1", method: "PROPFIND", status: 207, expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4, 9110 §9.2.1", method: "M-SEARCH", expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4, 9110 §9.2.1", method: "BREW", expected: ["/doc"]),
    MethodInvalidationCase(
        rfc: "9111 §4.4", method: "MOVE", status: 201, location: "http://a.example/new", contentLocation: "/doc.json",
        expected: ["/doc", "/new", "/doc.json"]),
    MethodInvalidationCase(
        rfc: "9111 §4.4", method: "COPY", status: 201, location: "http://b.example/new", expected: ["/doc"]),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "PROPPATCH", status: 400, expected: []),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "PURGE", status: 404, expected: []),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "POST", status: 500, expected: []),
    MethodInvalidationCase(rfc: "9111 §4.4", method: "POST", status: 100, expected: []),
]

@Test("Every unsafe method, extension methods included, invalidates on 2xx/3xx", arguments: methodInvalidationCases)
func methodInvalidation(_ c: MethodInvalidationCase) {
    let targets = invalidationTargets(
        method: c.method, status: c.status, requestPath: "/doc", requestAuthority: "a.example", location: c.location,
        contentLocation: c.contentLocation)
    #expect(targets == c.expected, "RFC \(c.rfc)")
}

struct PostReuseCase: CustomTestStringConvertible, Sendable {
    let rfc = "9110 §9.3.3"
    let note: String
    var target = "/orders/7"
    var status = 200
    let headers: [String]
    var targets: [String] = ["paca-cache-control"]
    let expected: Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let postReuseCases: [PostReuseCase] = [
    PostReuseCase(
        note: "max-age and Content-Location = target", headers: ["Cache-Control: max-age=60", "Content-Location: /orders/7"],
        expected: true),
    PostReuseCase(note: "s-maxage counts", headers: ["Cache-Control: s-maxage=60", "Content-Location: /orders/7"], expected: true),
    PostReuseCase(
        note: "Expires counts", headers: ["Expires: Mon, 01 Jan 2024 00:01:00 GMT", "Content-Location: /orders/7"], expected: true),
    PostReuseCase(
        note: "absolute Content-Location on the same host",
        headers: ["Cache-Control: max-age=60", "Content-Location: http://a.example/orders/7"], expected: true),
    PostReuseCase(
        note: "relative Content-Location resolving to the target", headers: ["Cache-Control: max-age=60", "Content-Location: 7"],
        expected: true),
    PostReuseCase(
        note: "query is part of the target", target: "/orders?id=7",
        headers: ["Cache-Control: max-age=60", "Content-Location: /orders?id=7"], expected: true),
    PostReuseCase(note: "no Content-Location", headers: ["Cache-Control: max-age=60"], expected: false),
    PostReuseCase(
        note: "Content-Location names another resource", headers: ["Cache-Control: max-age=60", "Content-Location: /orders/8"],
        expected: false),
    PostReuseCase(
        note: "Content-Location on another host",
        headers: ["Cache-Control: max-age=60", "Content-Location: http://b.example/orders/7"], expected: false),
    PostReuseCase(note: "no explicit freshness", headers: ["Content-Location: /orders/7"], expected: false),
    PostReuseCase(
        note: "heuristic freshness is not explicit",
        headers: ["Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT", "Content-Location: /orders/7"], expected: false),
    PostReuseCase(
        note: "201 Created is not the target's representation", status: 201,
        headers: ["Cache-Control: max-age=60", "Content-Location: /orders/7"], expected: false),
    PostReuseCase(
        note: "a targeted field without freshness overrides Cache-Control (RFC 9213)",
        headers: ["Paca-Cache-Control: no-cache", "Cache-Control: max-age=60", "Content-Location: /orders/7"], expected: false),
    PostReuseCase(
        note: "Expires does not count under a targeted field (RFC 9213 §2.2)",
        headers: ["Paca-Cache-Control: public", "Expires: Mon, 01 Jan 2024 00:01:00 GMT", "Content-Location: /orders/7"],
        expected: false),
]

@Test("A POST answer is reusable for GET only with explicit freshness and its own Content-Location", arguments: postReuseCases)
func postReuse(_ c: PostReuseCase) {
    let reusable = postResponseReusableForGet(
        requestTarget: c.target, requestAuthority: "a.example", status: c.status, responseHeaders: fields(c.headers),
        cacheControlTargets: c.targets)
    #expect(reusable == c.expected, "RFC \(c.rfc)")
}

// MARK: - Class 7: a 304 updates the stored fields as RFC 9111 §3.2 lists

struct NotModifiedFieldCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let stored: [String]
    let notModified: [String]
    let expected: [String]
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let notModifiedFieldCases: [NotModifiedFieldCase] = [
    NotModifiedFieldCase(
        rfc: "9111 §3.2, 9110 §15.4.5", note: "the fields a 304 must carry replace the stored ones",
        stored: ["Cache-Control: max-age=10", "ETag: \"a\"", "Date: d1", "Expires: e1", "Vary: Accept", "Content-Location: /x"],
        notModified: ["Cache-Control: max-age=60", "ETag: \"a\"", "Date: d2", "Expires: e2", "Vary: Accept", "Content-Location: /y"],
        expected: ["Cache-Control: max-age=60", "ETag: \"a\"", "Date: d2", "Expires: e2", "Vary: Accept", "Content-Location: /y"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "Content-Length is never updated", stored: ["Content-Length: 5"], notModified: ["Content-Length: 0"],
        expected: ["Content-Length: 5"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "Content-Type is updated (paca stores no processed form of the body)",
        stored: ["Content-Type: text/plain"], notModified: ["Content-Type: text/plain; charset=utf-8"],
        expected: ["Content-Type: text/plain; charset=utf-8"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "Content-Encoding is kept: the stored bytes are in the stored coding",
        stored: ["Content-Encoding: x-custom"], notModified: ["Content-Encoding: identity"], expected: ["Content-Encoding: x-custom"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "Content-Range is processed by the recipient and may be ignored", stored: ["X: 1"],
        notModified: ["Content-Range: bytes 0-1/5"], expected: ["X: 1"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.1, 9112 §7", note: "Transfer-Encoding is hop-by-hop: never stored", stored: ["X: 1"],
        notModified: ["Transfer-Encoding: chunked"], expected: ["X: 1"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.1", note: "TE, Trailer, Upgrade, Keep-Alive, Proxy-Connection are hop-by-hop", stored: ["X: 1"],
        notModified: ["TE: trailers", "Trailer: X-Sum", "Upgrade: h2c", "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive"],
        expected: ["X: 1"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.1", note: "a field named in Connection is hop-by-hop", stored: ["X-Hop: 1"],
        notModified: ["Connection: x-hop", "X-Hop: 2"], expected: ["X-Hop: 1"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.1", note: "Proxy-Authenticate and Proxy-Authentication-Info are not stored", stored: [],
        notModified: ["Proxy-Authenticate: Basic", "Proxy-Authentication-Info: x"], expected: []),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "Last-Modified and extension fields are updated, new ones appended",
        stored: ["Last-Modified: m1", "X-Build: 1"], notModified: ["Last-Modified: m2", "X-Build: 2", "X-New: y"],
        expected: ["Last-Modified: m2", "X-Build: 2", "X-New: y"]),
    NotModifiedFieldCase(
        rfc: "9111 §3.2", note: "a field absent from the 304 is kept", stored: ["Content-Type: text/html", "X: 1"],
        notModified: ["X: 2"], expected: ["Content-Type: text/html", "X: 2"]),
]

@Test("A 304 updates exactly the stored fields RFC 9111 §3.2 allows", arguments: notModifiedFieldCases)
func notModifiedFields(_ c: NotModifiedFieldCase) {
    #expect(mergeNotModified(stored: fields(c.stored), notModified: fields(c.notModified)) == fields(c.expected), "RFC \(c.rfc)")
}
