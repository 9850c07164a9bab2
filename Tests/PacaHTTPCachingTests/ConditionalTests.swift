import PacaHTTPCaching
import Testing

struct INMCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let header: String
    let etag: String?
    let matches: Bool
    var testDescription: String { "RFC \(rfc): If-None-Match \(header) vs \(etag ?? "nil")" }
}

let inmCases: [INMCase] = [
    INMCase(rfc: "9110 §13.1.2", header: "\"a\"", etag: "\"a\"", matches: true),
    INMCase(rfc: "9110 §13.1.2", header: "\"a\"", etag: "\"b\"", matches: false),
    INMCase(rfc: "9110 §8.8.3.2", header: "W/\"a\"", etag: "\"a\"", matches: true),
    INMCase(rfc: "9110 §8.8.3.2", header: "\"a\"", etag: "W/\"a\"", matches: true),
    INMCase(rfc: "9110 §13.1.2", header: "\"x\", \"y\" , W/\"a\"", etag: "\"a\"", matches: true),
    INMCase(rfc: "9110 §13.1.2", header: "*", etag: nil, matches: true),
    INMCase(rfc: "9110 §13.1.2", header: "*", etag: "\"a\"", matches: true),
    INMCase(rfc: "9110 §13.1.2", header: "\"a\"", etag: nil, matches: false),
    INMCase(rfc: "9110 §8.8.3", header: "\"a,b\"", etag: "\"a,b\"", matches: true),
    INMCase(rfc: "9110 §8.8.3", header: "\"a\", \"b\"", etag: "\"a,b\"", matches: false),
    INMCase(rfc: "9110 §8.8.3", header: "garbage \"", etag: "\"a\"", matches: false),
    INMCase(rfc: "9110 §8.8.3", header: "abc", etag: "abc", matches: true),
    INMCase(rfc: "9110 §8.8.3", header: "\"A\"", etag: "\"a\"", matches: false),
]

@Test("If-None-Match weak comparison", arguments: inmCases)
func ifNoneMatch(_ c: INMCase) {
    #expect(ifNoneMatchMatches(c.header, etag: c.etag) == c.matches, "RFC \(c.rfc)")
}

struct IMSCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let header: String
    let lastModified: String?
    let date: String?
    let notModified: Bool
    var testDescription: String { "RFC \(rfc): If-Modified-Since \(header)" }
}

let imsCases: [IMSCase] = [
    IMSCase(rfc: "9110 §13.1.3", header: date(0), lastModified: date(-10), date: nil, notModified: true),
    IMSCase(rfc: "9110 §13.1.3", header: date(0), lastModified: date(0), date: nil, notModified: true),
    IMSCase(rfc: "9110 §13.1.3", header: date(0), lastModified: date(10), date: nil, notModified: false),
    IMSCase(rfc: "9111 §4.3.2", header: date(0), lastModified: nil, date: date(-5), notModified: true),
    IMSCase(rfc: "9111 §4.3.2", header: date(0), lastModified: nil, date: date(5), notModified: false),
    IMSCase(rfc: "9111 §4.3.2", header: date(0), lastModified: nil, date: nil, notModified: false),
    IMSCase(rfc: "9110 §13.1.3", header: "yesterday", lastModified: date(-10), date: nil, notModified: false),
    IMSCase(
        rfc: "9110 §13.1.3", header: "Sunday, 06-Nov-94 08:49:37 GMT", lastModified: "Sun, 06 Nov 1994 08:49:37 GMT", date: nil,
        notModified: true),
]

@Test("If-Modified-Since", arguments: imsCases)
func ifModifiedSince(_ c: IMSCase) {
    #expect(ifModifiedSinceNotModified(c.header, lastModified: c.lastModified, dateHeader: c.date) == c.notModified, "RFC \(c.rfc)")
}

struct NotModifiedCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let request: [String]
    let answer304: Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let notModifiedCases: [NotModifiedCase] = [
    NotModifiedCase(
        rfc: "9110 §13.2.2", note: "If-None-Match precedes If-Modified-Since (mismatch)",
        request: ["If-None-Match: \"zzz\"", "If-Modified-Since: \(date(100))"], answer304: false),
    NotModifiedCase(
        rfc: "9110 §13.2.2", note: "If-None-Match precedes If-Modified-Since (match)",
        request: ["If-None-Match: \"v1\"", "If-Modified-Since: \(date(-100_000))"], answer304: true),
    NotModifiedCase(rfc: "9110 §13.1.3", note: "If-Modified-Since alone", request: ["If-Modified-Since: \(date(0))"], answer304: true),
    NotModifiedCase(
        rfc: "9110 §13.1.3", note: "If-Modified-Since on two lines is ignored",
        request: ["If-Modified-Since: \(date(0))", "If-Modified-Since: \(date(0))"], answer304: false),
    NotModifiedCase(
        rfc: "9110 §13.1.2", note: "If-None-Match over two lines", request: ["If-None-Match: \"x\"", "If-None-Match: \"v1\""],
        answer304: true),
    NotModifiedCase(rfc: "9110 §13.2.2", note: "no conditional fields", request: [], answer304: false),
]

@Test("304 from storage", arguments: notModifiedCases)
func answerNotModified(_ c: NotModifiedCase) {
    #expect(
        shouldAnswerNotModified(requestHeaders: fields(c.request), etag: "\"v1\"", lastModified: date(-50), date: date(0)) == c.answer304,
        "RFC \(c.rfc)")
}

@Test("Revalidation headers (RFC 9111 §4.3.1)")
func revalidationFields() {
    #expect(revalidationHeaders(etag: "\"v1\"", lastModified: date(0)) == h("If-None-Match: \"v1\"", "If-Modified-Since: \(date(0))"))
    #expect(revalidationHeaders(etag: nil, lastModified: "not a date") == [])
    #expect(revalidationHeaders(etag: "W/\"w\"", lastModified: nil) == h("If-None-Match: W/\"w\""))
}

struct MergeCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let stored: [String]
    let notModified: [String]
    var excluding: Set<String> = []
    let expected: [String]
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let mergeCases: [MergeCase] = [
    MergeCase(
        rfc: "9111 §3.2", note: "replaces in place and keeps order",
        stored: ["Content-Type: text/plain", "Cache-Control: max-age=60", "ETag: \"a\"", "X-A: 1"],
        notModified: ["Cache-Control: max-age=120", "Date: D2"],
        expected: ["Content-Type: text/plain", "Cache-Control: max-age=120", "ETag: \"a\"", "X-A: 1", "Date: D2"]),
    MergeCase(
        rfc: "9111 §3.2", note: "Content-Length is never updated",
        stored: ["Content-Length: 10"], notModified: ["Content-Length: 0"], expected: ["Content-Length: 10"]),
    MergeCase(
        rfc: "9111 §3.2", note: "multi-line field replaced as a whole",
        stored: ["Link: <a>", "X: 1", "Link: <b>"], notModified: ["link: <c>", "Link: <d>"],
        expected: ["link: <c>", "Link: <d>", "X: 1"]),
    MergeCase(
        rfc: "9111 §3.1", note: "hop-by-hop and Connection-named fields not merged",
        stored: ["X: 1"], notModified: ["Connection: x-secret", "X-Secret: s", "Keep-Alive: 5", "Proxy-Authenticate: Basic", "X: 2"],
        expected: ["X: 2"]),
    MergeCase(
        rfc: "9111 §3.1", note: "Set-Cookie and Age not stored from a 304",
        stored: ["X: 1"], notModified: ["Set-Cookie: a=b", "Age: 5"], expected: ["X: 1"]),
    MergeCase(
        rfc: "9111 §3.2", note: "caller exclusions (private= fields)",
        stored: ["X: 1"], notModified: ["X-User: bob", "X: 2"], excluding: ["X-User"], expected: ["X: 2"]),
    MergeCase(
        rfc: "9111 §3.2", note: "Content-Encoding of the stored body is kept",
        stored: ["Content-Encoding: gzip"], notModified: ["Content-Encoding: br"], expected: ["Content-Encoding: gzip"]),
    MergeCase(
        rfc: "9111 §4.3.4", note: "empty 304 changes nothing",
        stored: ["A: 1", "B: 2"], notModified: [], expected: ["A: 1", "B: 2"]),
]

@Test("Merging a 304 into stored fields", arguments: mergeCases)
func merge304(_ c: MergeCase) {
    #expect(
        mergeNotModified(stored: fields(c.stored), notModified: fields(c.notModified), excluding: c.excluding) == fields(c.expected),
        "RFC \(c.rfc)")
}

struct SelectCase: CustomTestStringConvertible, Sendable {
    let rfc = "9111 §4.3.4"
    let note: String
    let notModified: [String]
    let etag: String?
    let lastModified: String?
    let applies: Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let selectCases: [SelectCase] = [
    SelectCase(note: "strong ETag matches", notModified: ["ETag: \"a\""], etag: "\"a\"", lastModified: nil, applies: true),
    SelectCase(note: "strong ETag differs", notModified: ["ETag: \"b\""], etag: "\"a\"", lastModified: nil, applies: false),
    SelectCase(note: "strong ETag vs stored weak", notModified: ["ETag: \"a\""], etag: "W/\"a\"", lastModified: nil, applies: false),
    SelectCase(note: "weak ETag weakly matches", notModified: ["ETag: W/\"a\""], etag: "\"a\"", lastModified: nil, applies: true),
    SelectCase(note: "Last-Modified equal", notModified: ["Last-Modified: \(date(-5))"], etag: nil, lastModified: date(-5), applies: true),
    SelectCase(
        note: "Last-Modified differs", notModified: ["Last-Modified: \(date(-4))"], etag: nil, lastModified: date(-5), applies: false),
    SelectCase(note: "no validators in the 304", notModified: ["Date: \(t0Date)"], etag: "\"a\"", lastModified: nil, applies: true),
]

@Test("Which stored response a 304 updates", arguments: selectCases)
func select304(_ c: SelectCase) {
    #expect(
        notModifiedApplies(notModified: fields(c.notModified), storedETag: c.etag, storedLastModified: c.lastModified) == c.applies,
        "RFC \(c.rfc)")
}
