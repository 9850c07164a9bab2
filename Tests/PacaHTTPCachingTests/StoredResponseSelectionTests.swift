import PacaHTTPCaching
import Testing

/// Issue 11, class 10: several stored responses for one key (RFC 9111 §4.3.4) — which of them a
/// 304 updates, and the `If-None-Match` that asks about all of them.

struct StoredSelectionCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let notModified: [String]
    /// `(ETag, Last-Modified, response time)` of each stored response, the revalidated one first.
    let stored: [(String?, String?, Int64)]
    /// The indices of the stored responses the 304 updates; empty: none (send again unconditionally).
    let selected: [Int]
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let storedSelectionCases: [StoredSelectionCase] = [
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "a strong ETag selects the stored response it names, the revalidated one",
        notModified: ["ETag: \"en\""], stored: [("\"en\"", nil, 1), ("\"fr\"", nil, 2)], selected: [0]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "a strong ETag selects another stored response than the revalidated one",
        notModified: ["ETag: \"fr\""], stored: [("\"en\"", nil, 1), ("\"fr\"", nil, 2)], selected: [1]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "a strong ETag selects every stored response with that strong validator",
        notModified: ["ETag: \"same\""], stored: [("\"same\"", nil, 1), ("\"other\"", nil, 2), ("\"same\"", nil, 3)], selected: [0, 2]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "a strong ETag matching no stored response: the 304 updates none",
        notModified: ["ETag: \"de\""], stored: [("\"en\"", nil, 1), ("\"fr\"", nil, 2)], selected: []),
    StoredSelectionCase(
        rfc: "9111 §4.3.4, 9110 §8.8.3.2", note: "a strong ETag never strongly matches a stored weak one",
        notModified: ["ETag: \"en\""], stored: [("W/\"en\"", nil, 1)], selected: []),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "a weak ETag selects the most recent of the stored responses it weakly matches",
        notModified: ["ETag: W/\"x\""], stored: [("\"x\"", nil, 5), ("W/\"x\"", nil, 9), ("\"y\"", nil, 20)], selected: [1]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "Last-Modified (weak) selects the most recent stored response with that date",
        notModified: ["Last-Modified: \(date(-5))"], stored: [(nil, date(-5), 3), (nil, date(-9), 8), (nil, date(-5), 4)],
        selected: [2]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "Last-Modified matching no stored response: none",
        notModified: ["Last-Modified: \(date(-1))"], stored: [(nil, date(-5), 3)], selected: []),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "no validator and one stored response: that one (paca: even when it has validators)",
        notModified: ["Date: \(t0Date)"], stored: [("\"a\"", nil, 1)], selected: [0]),
    StoredSelectionCase(
        rfc: "9111 §4.3.4", note: "no validator and several stored responses: none (which one is unknown)",
        notModified: ["Date: \(t0Date)"], stored: [("\"a\"", nil, 1), ("\"b\"", nil, 2)], selected: []),
]

@Test("Which of several stored responses a 304 updates", arguments: storedSelectionCases)
func storedResponseSelection(_ c: StoredSelectionCase) {
    let stored = c.stored.map { StoredValidators(etag: $0.0, lastModified: $0.1, responseTime: $0.2) }
    #expect(storedResponsesSelected(byNotModified: fields(c.notModified), among: stored) == c.selected, "RFC \(c.rfc)")
}

@Test("RFC 9111 §4.3.1: revalidating several stored responses lists each distinct valid ETag once, in order")
func ifNoneMatchForSeveral() {
    let out = revalidationHeaders(etags: ["\"en\"", nil, "W/\"fr\"", "\"en\"", "not valid\"", "\"de\""], lastModified: date(-5))
    #expect(out == fields(["If-None-Match: \"en\", W/\"fr\", \"de\"", "If-Modified-Since: \(date(-5))"]))
    #expect(revalidationHeaders(etags: [nil], lastModified: nil).isEmpty)
}
