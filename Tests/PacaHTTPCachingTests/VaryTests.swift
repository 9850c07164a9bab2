import PacaHTTPCaching
import Testing

struct VaryNamesCase: CustomTestStringConvertible, Sendable {
    let rfc = "9111 §4.1"
    let response: [String]
    let names: [String]?
    var testDescription: String { "RFC \(rfc): \(response)" }
}

let varyNamesCases: [VaryNamesCase] = [
    VaryNamesCase(response: [], names: []),
    VaryNamesCase(response: ["Vary: Accept-Encoding"], names: ["accept-encoding"]),
    VaryNamesCase(
        response: ["Vary: accept-language, Accept-Encoding", "vary: ACCEPT-ENCODING"], names: ["accept-encoding", "accept-language"]),
    VaryNamesCase(response: ["Vary: *"], names: nil),
    VaryNamesCase(response: ["Vary: Accept", "Vary: *"], names: nil),
    VaryNamesCase(response: ["Vary: , ,"], names: []),
    VaryNamesCase(response: ["Vary: bad name, Origin"], names: ["origin"]),
]

@Test("Vary field names", arguments: varyNamesCases)
func varyNames(_ c: VaryNamesCase) {
    #expect(varyFieldNames(fields(c.response)) == c.names, "RFC \(c.rfc)")
}

struct VaryKeyCase: CustomTestStringConvertible, Sendable {
    let rfc = "9111 §4.1"
    let note: String
    let names: [String]
    let a: [String]
    let b: [String]
    let same: Bool
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let varyKeyCases: [VaryKeyCase] = [
    VaryKeyCase(
        note: "identical values", names: ["accept-encoding"], a: ["Accept-Encoding: gzip"], b: ["accept-encoding: gzip"], same: true),
    VaryKeyCase(
        note: "different values", names: ["accept-encoding"], a: ["Accept-Encoding: gzip"], b: ["Accept-Encoding: br"], same: false),
    VaryKeyCase(
        note: "whitespace collapsed", names: ["accept-encoding"], a: ["Accept-Encoding: gzip,   deflate"],
        b: ["Accept-Encoding: gzip , deflate"], same: true),
    VaryKeyCase(
        note: "multiple lines combine like one list", names: ["accept-encoding"], a: ["Accept-Encoding: gzip", "Accept-Encoding: br"],
        b: ["Accept-Encoding: gzip, br"], same: true),
    VaryKeyCase(
        note: "Accept-Encoding lowercased", names: ["accept-encoding"], a: ["Accept-Encoding: GZIP"], b: ["Accept-Encoding: gzip"],
        same: true),
    VaryKeyCase(
        note: "Accept-Language lowercased", names: ["Accept-Language"], a: ["Accept-Language: en-US"], b: ["Accept-Language: en-us"],
        same: true),
    VaryKeyCase(note: "other fields keep case", names: ["x-tenant"], a: ["X-Tenant: Acme"], b: ["X-Tenant: acme"], same: false),
    VaryKeyCase(note: "absent differs from empty", names: ["x-tenant"], a: [], b: ["X-Tenant: "], same: false),
    VaryKeyCase(note: "absent equals absent", names: ["x-tenant"], a: ["Other: 1"], b: [], same: true),
    VaryKeyCase(note: "name order does not matter", names: ["b", "a", "A"], a: ["A: 1", "B: 2"], b: ["B: 2", "A: 1"], same: true),
    VaryKeyCase(note: "values cannot forge a neighbour", names: ["a", "b"], a: ["A: 1\nb=1:2"], b: ["A: 1", "B: 2"], same: false),
    VaryKeyCase(note: "quoted whitespace kept", names: ["x"], a: ["X: \"a  b\""], b: ["X: \"a b\""], same: false),
]

@Test("Vary secondary keys", arguments: varyKeyCases)
func varyKeys(_ c: VaryKeyCase) {
    let ka = secondaryKey(varyNames: c.names, requestHeaders: fields(c.a))
    let kb = secondaryKey(varyNames: c.names, requestHeaders: fields(c.b))
    #expect((ka == kb) == c.same, "RFC \(c.rfc): \(ka.debugDescription) vs \(kb.debugDescription)")
}

@Test("No Vary names gives an empty secondary key (RFC 9111 §4.1)")
func emptySecondaryKey() {
    #expect(secondaryKey(varyNames: [], requestHeaders: h("Accept: x")) == "")
}

@Suite("Vary: preference lists normalised before keying (RFC 9110 §12.4–12.5)")
struct VaryPreferenceListTests {
    static func key(_ name: String, _ value: String) -> String {
        secondaryKey(varyNames: [name], requestHeaders: [HTTPField(name: name, value: value)])
    }

    static let same: [(String, String, String)] = [
        ("Accept-Language", "en, fr;q=0.5", "fr;q=0.5,en"),
        ("Accept-Language", "en-US,  fr ; q=0.50", "en-us, fr;q=0.5"),
        ("Accept-Language", "en;q=1.0, fr;q=0.500", "en, fr;q=0.5"),
        ("Accept-Encoding", "gzip, br", "br,gzip"),
        ("Accept-Encoding", "gzip, gzip", "gzip"),
        ("Accept-Encoding", "GZIP;q=1, identity;q=0", "identity;q=0, gzip"),
        ("Accept", "text/html, application/json;q=0.9", "application/json; q=0.9 ,text/html"),
        ("Accept", "text/html;level=1, text/html", "text/html, text/html;level=1"),
    ]

    static let different: [(String, String, String)] = [
        ("Accept-Language", "en, fr;q=0.5", "en;q=0.5, fr"),
        ("Accept-Encoding", "gzip", "gzip, br"),
        ("Accept-Encoding", "identity;q=0", "identity"),
        ("Accept", "text/html;level=1", "text/html"),
    ]

    @Test("lists that mean the same share one variant", arguments: same)
    func sameVariant(name: String, first: String, second: String) {
        #expect(Self.key(name, first) == Self.key(name, second))
    }

    @Test("lists that mean different things get different variants", arguments: different)
    func differentVariants(name: String, first: String, second: String) {
        #expect(Self.key(name, first) != Self.key(name, second))
    }

    @Test("a list that does not parse keeps its raw (whitespace-normalised) value")
    func unparsedListsStayApart() {
        #expect(Self.key("Accept-Language", "en;q=2") != Self.key("Accept-Language", "en"))
        #expect(Self.key("Accept-Language", "en;q=x") != Self.key("Accept-Language", "en;q=y"))
    }
}
