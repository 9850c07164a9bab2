import Testing

@testable import PacaEngine

@Suite("RequestTarget")
struct RequestTargetTests {
    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case target(path: String, query: String?)
        case badEncoding
        case invalidTarget
        case forbiddenByte
        case emptyHost

        var description: String {
            switch self {
            case .target(let path, let query): query.map { "\(path) ? \($0)" } ?? path
            case .badEncoding: "badEncoding"
            case .invalidTarget: "invalidTarget"
            case .forbiddenByte: "forbiddenByte"
            case .emptyHost: "emptyHost"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let target: String
        let expected: Outcome
        let note: String
        var testDescription: String { "\(note): \(target) → \(expected)" }
    }

    static func ok(_ target: String, _ path: String, _ query: String?, _ note: String) -> Case {
        Case(target: target, expected: .target(path: path, query: query), note: note)
    }

    static func ok(_ target: String, _ path: String, _ note: String) -> Case {
        ok(target, path, nil, note)
    }

    static let cases: [Case] = [
        ok("/", "/", "root"),
        ok("/a/b", "/a/b", "already normal"),
        ok("/a/b?x=1&y=2", "/a/b", "x=1&y=2", "query split off"),
        ok("/a/b?", "/a/b", "", "empty query is not no query"),
        ok("/a?b=%zz", "/a", "b=%zz", "the query is kept as sent"),
        // RFC 3986 §6.2.2.2: percent-encoding normalisation.
        ok("/%7Euser", "/~user", "unreserved ~ decoded"),
        ok("/%7euser", "/~user", "lower-case escape of an unreserved character decoded"),
        ok("/%41%62%2D%2e%5F%30", "/Ab-._0", "letters, digits, - . _ decoded"),
        ok("/a%2fb", "/a%2Fb", "%2F stays encoded, upper-cased"),
        ok("/a%2Fb/../c", "/c", "%2F is not a segment boundary"),
        ok("/a%20b", "/a%20b", "a space stays encoded"),
        ok("/caf%c3%a9", "/caf%C3%A9", "other escapes upper-cased"),
        ok("/a%3fb", "/a%3Fb", "an encoded ? stays in the path"),
        // RFC 3986 §6.2.2.3: dot segments; plus merged slashes.
        ok("/a/./b", "/a/b", "single dot removed"),
        ok("/a/b/../c", "/a/c", "double dot removes the previous segment"),
        ok("/a/b/..", "/a/", "trailing double dot leaves a directory"),
        ok("/a/b/.", "/a/b/", "trailing single dot leaves a directory"),
        ok("/../../a", "/a", "double dot above the root stays at the root"),
        ok("/a/..", "/", "back to the root"),
        ok("/a/%2E%2E/b", "/b", "encoded dots decode to a dot segment"),
        ok("/a/.b/c.", "/a/.b/c.", "dots inside names are not dot segments"),
        ok("/a//b///c", "/a/b/c", "// merged"),
        ok("//a", "/a", "leading // merged"),
        ok("//", "/", "only slashes"),
        // Trailing slash kept.
        ok("/a/b/", "/a/b/", "trailing slash kept"),
        ok("/a//", "/a/", "trailing // becomes one slash"),
        ok("/a/./", "/a/", "trailing slash kept after a dot segment"),
        // Absolute form.
        ok("http://example.com/a/../b?q=1", "/b", "q=1", "absolute-form"),
        ok("https://example.com:8443/x", "/x", "absolute-form with port"),
        ok("http://example.com", "/", "absolute-form without path"),
        ok("http://example.com?x=1", "/", "x=1", "absolute-form with a query and no path"),
        // Refusals.
        Case(target: "/%", expected: .badEncoding, note: "lone %"),
        Case(target: "/a%4", expected: .badEncoding, note: "one hex digit"),
        Case(target: "/%zz", expected: .badEncoding, note: "not hex"),
        Case(target: "/a%g1/b", expected: .badEncoding, note: "first digit not hex"),
        Case(target: "/a/%2", expected: .badEncoding, note: "truncated at the end"),
        Case(target: "", expected: .invalidTarget, note: "empty"),
        Case(target: "*", expected: .invalidTarget, note: "asterisk-form"),
        Case(target: "example.com:443", expected: .invalidTarget, note: "authority-form"),
        Case(target: "a/b", expected: .invalidTarget, note: "relative path"),
        Case(target: "?x=1", expected: .invalidTarget, note: "query only"),
        Case(target: "ftp://example.com/a", expected: .invalidTarget, note: "not http(s)"),
        // Issue 11, class 12: bytes a request-target may not hold (RFC 9112 §3.2, RFC 3986 §3.3).
        Case(target: "/a#frag", expected: .forbiddenByte, note: "RFC 9112 §3.2: a fragment is never sent"),
        Case(target: "/a?x=1#frag", expected: .forbiddenByte, note: "RFC 9112 §3.2: a fragment after the query"),
        Case(target: "/a\\b", expected: .forbiddenByte, note: "RFC 3986 §3.3: backslash in the path"),
        Case(target: "/a?x=\\", expected: .forbiddenByte, note: "RFC 3986 §3.4: backslash in the query"),
        Case(target: "/caf\u{E9}", expected: .forbiddenByte, note: "RFC 3986 §3.3: raw non-ASCII in the path"),
        Case(target: "/a?q=caf\u{E9}", expected: .forbiddenByte, note: "RFC 3986 §3.4: raw non-ASCII in the query"),
        Case(target: "/a|b", expected: .target(path: "/a|b", query: nil), note: "| passes (clients send it raw; nginx takes it)"),
        Case(target: "/a\u{7F}", expected: .forbiddenByte, note: "RFC 3986 §2: DEL"),
        Case(target: "http://example.com/a\\b", expected: .forbiddenByte, note: "RFC 3986 §3.3: backslash in absolute-form"),
        Case(target: "/a/../b\\c", expected: .forbiddenByte, note: "RFC 3986 §3.3: backslash on the normalising path"),
        // RFC 9110 §4.2.1: an http URI with an empty host is invalid.
        Case(target: "http:///a", expected: .emptyHost, note: "RFC 9110 §4.2.1: empty host"),
        Case(target: "http://", expected: .emptyHost, note: "RFC 9110 §4.2.1: empty authority, no path"),
        Case(target: "http://:80/a", expected: .emptyHost, note: "RFC 9110 §4.2.1: port without host"),
        Case(target: "http://user@/a", expected: .emptyHost, note: "RFC 9110 §4.2.1: userinfo without host"),
        Case(target: "https://?x=1", expected: .emptyHost, note: "RFC 9110 §4.2.2: https with an empty host"),
        ok("http://[::1]:8080/a", "/a", "RFC 3986 §3.2.2: IP-literal host"),
    ]

    @Test("parseReceived normalises per RFC 3986 §6.2.2 and refuses what RFC 9112 §3.2 forbids", arguments: cases)
    func parse(_ c: Case) {
        let actual: Outcome
        do throws(RequestTarget.ParseError) {
            let target = try RequestTarget.parseReceived(c.target)
            actual = .target(path: target.path, query: target.query)
        } catch {
            switch error {
            case .badEncoding: actual = .badEncoding
            case .invalidTarget: actual = .invalidTarget
            case .forbiddenByte: actual = .forbiddenByte
            case .emptyHost: actual = .emptyHost
            }
        }
        #expect(actual == c.expected)
    }

    @Test("normalisation is idempotent", arguments: cases.filter { if case .target = $0.expected { true } else { false } })
    func idempotent(_ c: Case) throws {
        let once = try RequestTarget.parse(c.target)
        let twice = try RequestTarget.parse(once.path)
        #expect(twice.path == once.path)
    }

    @Test(
        "absolute-form schemes are case-insensitive",
    )
    func uppercaseScheme() throws {
        let target = try RequestTarget.parse("HTTP://example.com/a/./b?x=1")
        #expect(target.path == "/a/b")
        #expect(target.query == "x=1")
    }

    @Test("parse stays lenient for targets not read off the wire: a fragment is dropped, raw non-ASCII percent-encoded")
    func lenientParse() throws {
        let fragment = try RequestTarget.parse("/a#frag")
        #expect(fragment.path == "/a" && fragment.query == nil)
        let afterQuery = try RequestTarget.parse("/a?x=1#frag")
        #expect(afterQuery.path == "/a" && afterQuery.query == "x=1")
        #expect(try RequestTarget.parse("/caf\u{E9}").path == "/caf%C3%A9")
        #expect(throws: RequestTarget.ParseError.emptyHost) { try RequestTarget.parse("http:///a") }
    }

    @Test("normalisePath works on a path alone")
    func normalisePath() throws {
        #expect(try RequestTarget.normalisePath("/a/./b/%7e") == "/a/b/~")
        #expect(throws: RequestTarget.ParseError.badEncoding) { try RequestTarget.normalisePath("/%x") }
    }
}

@Suite("RequestTarget.parseReceived against its definition")
struct RequestTargetReceivedDefinitionTests {
    /// What `parseReceived` must give: `forbiddenByte` for a target holding a byte no
    /// request-target may hold, else what `parse` gives.
    static func reference(_ target: String) -> String {
        if target.utf8.contains(where: RequestTarget.isForbiddenTargetByte) { return "forbiddenByte" }
        return outcome { () throws(RequestTarget.ParseError) in try RequestTarget.parse(target) }
    }

    static func outcome(_ body: () throws(RequestTarget.ParseError) -> RequestTarget) -> String {
        do throws(RequestTarget.ParseError) {
            let target = try body()
            return "path \(target.path.debugDescription) query \(target.query.debugDescription)"
        } catch {
            return "\(error)"
        }
    }

    @Test("every byte value in each part of a target gives what the definition gives")
    func everyByte() {
        var checked = 0
        for value in UInt8(0)...UInt8(255) {
            // A byte as such (a lone byte of 0x80 or more is not UTF-8, so such bytes come in
            // as the two-byte character that carries them).
            let character = value < 0x80 ? String(UnicodeScalar(value)) : String(UnicodeScalar(UInt32(value))!)
            let targets = [
                "/" + character, "/a" + character + "b", "/a/" + character, "/a/" + character + "/b", "/a?" + character,
                "/a?x=" + character + "&y", "/a/" + character + "?q", character + "/a", "/" + character + character,
            ]
            for target in targets {
                let actual = Self.outcome { () throws(RequestTarget.ParseError) in try RequestTarget.parseReceived(target) }
                #expect(actual == Self.reference(target), "\(target.debugDescription)")
                checked += 1
            }
        }
        #expect(checked == 256 * 9)
    }
}
