import PacaHTTPCaching
import Testing

struct CCCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let lines: [String]
    let check: @Sendable (CacheControl) -> Bool
    let note: String
    init(_ rfc: String, _ lines: [String], _ note: String, _ check: @escaping @Sendable (CacheControl) -> Bool) {
        self.rfc = rfc; self.lines = lines; self.note = note; self.check = check
    }
    var testDescription: String { "RFC \(rfc): \(note) \(lines)" }
}

let ccCases: [CCCase] = [
    CCCase("9111 §5.2", ["max-age=60"], "plain max-age") { $0.maxAge == 60 },
    CCCase("9111 §5.2", ["MAX-AGE=60"], "names are case-insensitive") { $0.maxAge == 60 },
    CCCase("9111 §5.2", ["max-age=\"60\""], "quoted argument accepted") { $0.maxAge == 60 },
    CCCase("9111 §5.2", ["public", "max-age=5"], "several field lines combine") { $0.isPublic && $0.maxAge == 5 },
    CCCase("9111 §5.2", ["public,,  , max-age=5 ,"], "empty list members ignored") { $0.isPublic && $0.maxAge == 5 },
    CCCase("9111 §4.2.1", ["max-age=-1"], "negative max-age is invalid: stale") { $0.maxAge == 0 && $0.malformed == ["max-age"] },
    CCCase("9111 §4.2.1", ["max-age=abc"], "non-numeric max-age: stale") { $0.maxAge == 0 },
    CCCase("9111 §4.2.1", ["max-age="], "empty max-age: stale") { $0.maxAge == 0 },
    CCCase("9111 §4.2.1", ["max-age"], "max-age without argument: stale") { $0.maxAge == 0 },
    CCCase("9111 §4.2.1", ["max-age=1.5"], "fractional max-age: stale") { $0.maxAge == 0 },
    CCCase("9111 §4.2.1", ["max-age=60, max-age=120"], "conflicting duplicates: stale") { $0.maxAge == 0 && $0.malformed == ["max-age"] },
    CCCase("9111 §4.2.1", ["max-age=60", "max-age=60"], "identical duplicates are fine") { $0.maxAge == 60 && $0.malformed.isEmpty },
    CCCase("9111 §4.2.1", ["max-age=abc, max-age=60"], "invalid then valid stays stale") { $0.maxAge == 0 },
    CCCase("9111 §1.2.2", ["max-age=99999999999999999999999"], "huge clamps to 2^31") { $0.maxAge == 2_147_483_648 },
    CCCase("9111 §1.2.2", ["max-age=2147483649"], "just above 2^31 clamps") { $0.maxAge == 2_147_483_648 },
    CCCase("9111 §1.2.2", ["max-age=000060"], "leading zeros") { $0.maxAge == 60 },
    CCCase("9111 §5.2.2.10", ["s-maxage=30, s-maxage=40"], "conflicting s-maxage: stale") { $0.sMaxAge == 0 },
    CCCase("9111 §5.2.2.10", ["s-maxage=-5"], "negative s-maxage: stale") { $0.sMaxAge == 0 },
    CCCase("9111 §5.2.2.4", ["no-cache"], "unqualified no-cache") { $0.noCache && $0.noCacheFields.isEmpty },
    CCCase("9111 §5.2.2.4", ["no-cache=\"Set-Cookie, X-Foo\""], "qualified no-cache lists fields") {
        !$0.noCache && $0.noCacheFields == ["set-cookie", "x-foo"]
    },
    CCCase("9111 §5.2.2.4", ["no-cache=X-Foo"], "token form of no-cache field") { !$0.noCache && $0.noCacheFields == ["x-foo"] },
    CCCase("9111 §5.2.2.4", ["no-cache=\"\""], "empty qualified list counts as unqualified") { $0.noCache },
    CCCase("9111 §5.2.2.4", ["no-cache=\"a\", no-cache"], "unqualified wins over qualified") { $0.noCache && $0.noCacheFields == ["a"] },
    CCCase("9111 §5.2.2.7", ["private"], "unqualified private") { $0.isPrivate },
    CCCase("9111 §5.2.2.7", ["private=\"Authorization-Info,x-user\""], "qualified private") {
        !$0.isPrivate && $0.privateFields == ["authorization-info", "x-user"]
    },
    CCCase("9111 §5.2.2.7", ["private=\"a\", private=\"A, b\""], "private fields deduplicated") { $0.privateFields == ["a", "b"] },
    CCCase("9111 §5.2", ["foo=\"a, max-age=5\", max-age=7"], "comma inside quoted extension does not split") { $0.maxAge == 7 },
    CCCase("9111 §5.2", ["foo=\"a\\\"b\", no-store"], "escaped quote inside quoted string") { $0.noStore },
    CCCase("9111 §5.2.3", ["community=\"UCI\", max-age=9"], "unknown extensions ignored") { $0.maxAge == 9 },
    CCCase(
        "9111 §5.2", ["no-store, must-revalidate, proxy-revalidate, no-transform, public, immutable, only-if-cached, must-understand"],
        "all flags"
    ) {
        $0.noStore && $0.mustRevalidate && $0.proxyRevalidate && $0.noTransform && $0.isPublic && $0.immutable && $0.onlyIfCached
            && $0.mustUnderstand
    },
    CCCase("5861 §3", ["stale-while-revalidate=30"], "stale-while-revalidate") { $0.staleWhileRevalidate == 30 },
    CCCase("5861 §4", ["stale-if-error=300"], "stale-if-error") { $0.staleIfError == 300 },
    CCCase("5861 §3", ["stale-while-revalidate=x"], "invalid swr ignored") { $0.staleWhileRevalidate == nil },
    CCCase("5861 §3", ["stale-while-revalidate=10, stale-while-revalidate=20"], "conflicting swr: none") { $0.staleWhileRevalidate == 0 },
    CCCase("9111 §5.2.1.2", ["max-stale"], "max-stale without value is unlimited") { $0.maxStale == .unlimited },
    CCCase("9111 §5.2.1.2", ["max-stale=10"], "max-stale with seconds") { $0.maxStale == .seconds(10) },
    CCCase("9111 §5.2.1.2", ["max-stale, max-stale=10"], "number beats unlimited") { $0.maxStale == .seconds(10) },
    CCCase("9111 §5.2.1.2", ["max-stale=20, max-stale=10"], "smallest max-stale") { $0.maxStale == .seconds(10) },
    CCCase("9111 §5.2.1.2", ["max-stale=-3"], "invalid max-stale ignored") { $0.maxStale == nil },
    CCCase("9111 §5.2.1.3", ["min-fresh=5, min-fresh=9"], "largest min-fresh") { $0.minFresh == 9 },
    CCCase("9111 §5.2.1.3", ["min-fresh=soon"], "invalid min-fresh ignored") { $0.minFresh == nil },
    CCCase("9111 §5.2, §4.2.1", [" max-age = 60 "], "whitespace around '=' is not in the grammar: invalid, stale") {
        $0.maxAge == 0 && $0.malformed == ["max-age"]
    },
    CCCase("9111 §5.2", [" max-age=60 "], "whitespace around the directive is list OWS") { $0.maxAge == 60 },
    CCCase("9111 §5.2", ["\u{0}garbage,;;==,\"unterminated"], "garbage never crashes") { !$0.noStore && $0.maxAge == nil },
    CCCase("9111 §5.2", [], "no field lines") { $0 == CacheControl() },
]

@Test("Cache-Control parsing", arguments: ccCases)
func cacheControlParsing(_ c: CCCase) {
    #expect(c.check(CacheControl(fieldValues: c.lines)), "RFC \(c.rfc)")
}

struct PragmaCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let headers: [String]
    let noCache: Bool
    let note: String
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let pragmaCases: [PragmaCase] = [
    PragmaCase(rfc: "9111 §5.4", headers: ["Pragma: no-cache"], noCache: true, note: "Pragma no-cache without Cache-Control"),
    PragmaCase(rfc: "9111 §5.4", headers: ["Pragma: No-Cache"], noCache: true, note: "Pragma is case-insensitive"),
    PragmaCase(
        rfc: "9111 §5.4", headers: ["Pragma: no-cache", "Cache-Control: max-age=5"], noCache: false,
        note: "Cache-Control present: Pragma ignored"),
    PragmaCase(rfc: "9111 §5.4", headers: ["Pragma: foo"], noCache: false, note: "other Pragma values ignored"),
]

@Test("Request directives and Pragma", arguments: pragmaCases)
func requestDirectives(_ c: PragmaCase) {
    #expect(RequestDirectives(headers: fields(c.headers)).noCache == c.noCache, "RFC \(c.rfc)")
}
