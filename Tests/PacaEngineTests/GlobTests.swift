import PacaEngine
import Testing

@Suite("Glob")
struct GlobTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let pattern: String
        let text: String
        let matches: Bool
        var testDescription: String { "\(pattern) \(matches ? "matches" : "does not match") \(text.isEmpty ? "\"\"" : text)" }
    }

    static let cases: [Case] = [
        // Exact patterns.
        .init(pattern: "/exact", text: "/exact", matches: true),
        .init(pattern: "/exact", text: "/exact/", matches: false),
        .init(pattern: "/exact", text: "/exac", matches: false),
        .init(pattern: "/exact", text: "/Exact", matches: false),
        .init(pattern: "/", text: "/", matches: true),
        // A trailing star: any run, `/` included, and the empty run.
        .init(pattern: "/*", text: "/", matches: true),
        .init(pattern: "/*", text: "/anything/at/all?q=1", matches: true),
        .init(pattern: "/a/*", text: "/a/b", matches: true),
        .init(pattern: "/a/*", text: "/a/b/c/d", matches: true),
        .init(pattern: "/a/*", text: "/a/", matches: true),
        .init(pattern: "/a/*", text: "/a", matches: false),
        .init(pattern: "/a/*", text: "/ab", matches: false),
        .init(pattern: "/API/*", text: "/api/x", matches: false),
        .init(pattern: "*", text: "", matches: true),
        .init(pattern: "*", text: "/x", matches: true),
        // A leading or inner star.
        .init(pattern: "*.json", text: "/x/y.json", matches: true),
        .init(pattern: "*.json", text: "/x/y.jsonp", matches: false),
        .init(pattern: "/a/*.json", text: "/a/b/c.json", matches: true),
        .init(pattern: "/a/*.json", text: "/b/c.json", matches: false),
        .init(pattern: "/a/*/c", text: "/a/b/c", matches: true),
        .init(pattern: "/a/*/c", text: "/a/b/x/c", matches: true),
        .init(pattern: "/a/*/c", text: "/a//c", matches: true),
        .init(pattern: "/a/*/c", text: "/a/c", matches: false),
        .init(pattern: "/a/*/c", text: "/a/b/c/d", matches: false),
        // Prefix and suffix must not overlap.
        .init(pattern: "/a*a", text: "/a", matches: false),
        .init(pattern: "/a*a", text: "/aa", matches: true),
        .init(pattern: "/a*/a", text: "/a/a", matches: true),
        // Several stars: the literals appear in order.
        .init(pattern: "/a/*/b/*/c", text: "/a/1/b/2/c", matches: true),
        .init(pattern: "/a/*/b/*/c", text: "/a/1/2/b/3/4/c", matches: true),
        .init(pattern: "/a/*/b/*/c", text: "/a/1/c/2/b", matches: false),
        .init(pattern: "/a/*/b/*/c", text: "/a/b/c", matches: false),
        .init(pattern: "/a/*/*", text: "/a/b", matches: false),
        .init(pattern: "/a/*/*", text: "/a/b/", matches: true),
        .init(pattern: "/**", text: "/x/y", matches: true),
        .init(pattern: "/a**b", text: "/ab", matches: true),
        .init(pattern: "*/users/*", text: "/api/v1/users/42", matches: true),
        .init(pattern: "*/users/*", text: "/api/v1/user/42", matches: false),
        // A repeated literal: the leftmost occurrence must not hide a later fit.
        .init(pattern: "/*ab*abc", text: "/xabyabababc", matches: true),
        .init(pattern: "/*aa*b", text: "/aaab", matches: true),
        // Non-ASCII is compared byte for byte.
        .init(pattern: "/caf\u{E9}/*", text: "/caf\u{E9}/menu", matches: true),
        .init(pattern: "/caf\u{E9}/*", text: "/cafe\u{301}/menu", matches: false),
    ]

    @Test("matches", arguments: cases)
    func matches(_ c: Case) {
        #expect(Glob(c.pattern).matches(c.text) == c.matches)
        #expect(Glob(c.pattern).matches(c.text[...]) == c.matches, "as a Substring")
    }

    @Test("keeps the pattern as written")
    func pattern() {
        let glob = Glob("/api/*/users")
        #expect(glob.pattern == "/api/*/users")
        #expect(glob.description == "/api/*/users")
        #expect(Glob("/a/*") == Glob("/a/*"))
        #expect(Glob("/a/*") != Glob("/b/*"))
    }
}
