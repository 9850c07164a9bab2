import PacaCore
import PacaEngine
import PacaHTTPCaching
import Testing

private let defaultOrigin = Origin(url: "http://127.0.0.1:9000")!

private func route(
    name: String = "users", match: String = "/api/*", origin: Origin = defaultOrigin, keyQuery: QueryKeyRule = .all,
    keyHeaders: [String] = [], forwardHeaders: [String] = [], preserveHost: Bool = false, policy: RoutePolicy = RoutePolicy()
) -> Route {
    Route(
        name: name, match: match, origin: origin, policy: policy, keyQuery: keyQuery, keyHeaders: keyHeaders,
        forwardHeaders: forwardHeaders, preserveHost: preserveHost)
}

@Suite("CacheKeyBuilder.keyedQuery")
struct KeyedQueryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let query: String?
        let rule: QueryKeyRule
        let expected: String
        let note: String
        var testDescription: String { "\(note): \(query ?? "nil") → \(expected.isEmpty ? "\"\"" : expected)" }
    }

    static let cases: [Case] = [
        .init(query: nil, rule: .all, expected: "", note: "no query"),
        .init(query: "", rule: .all, expected: "", note: "empty query"),
        .init(query: "&&", rule: .all, expected: "", note: "only separators"),
        .init(query: "a=1", rule: .all, expected: "a=1", note: "one parameter"),
        .init(query: "b=2&a=1", rule: .all, expected: "a=1&b=2", note: "sorted by name"),
        .init(query: "a=2&a=1&a=10", rule: .all, expected: "a=1&a=10&a=2", note: "same name sorted by value"),
        .init(query: "b=1&a=2&b=0", rule: .all, expected: "a=2&b=0&b=1", note: "name first, then value"),
        .init(query: "a-b=1&a=2", rule: .all, expected: "a=2&a-b=1", note: "by name, not by the whole text"),
        .init(query: "z&a=1", rule: .all, expected: "a=1&z", note: "a name without a value"),
        .init(query: "a=1&&b=2&", rule: .all, expected: "a=1&b=2", note: "empty parameters dropped"),
        .init(query: "a=b=c", rule: .all, expected: "a=b=c", note: "value keeps later ="),
        .init(query: "q=%2F&p=a+b", rule: .all, expected: "p=a+b&q=%2F", note: "text kept as sent"),
        .init(
            query: "page=2&utm_source=x&id=7", rule: .include(["id", "page"]), expected: "id=7&page=2", note: "include keeps only named"),
        .init(query: "utm_source=x", rule: .include(["id"]), expected: "", note: "include with nothing named"),
        .init(query: "ID=1&id=2", rule: .include(["id"]), expected: "id=2", note: "names are case-sensitive"),
        .init(
            query: "utm_source=x&id=7&utm_medium=y", rule: .exclude(["utm_source", "utm_medium"]), expected: "id=7",
            note: "exclude drops named"),
        .init(query: "utm_source=x", rule: .exclude(["utm_source"]), expected: "", note: "exclude everything"),
        .init(query: "", rule: .include(["id"]), expected: "", note: "empty query with a rule"),
    ]

    @Test("keyed query", arguments: cases)
    func keyedQuery(_ c: Case) {
        #expect(CacheKeyBuilder.keyedQuery(c.query, rule: c.rule) == c.expected)
    }

    /// The keyed query as first written (by `Character`, through `Substring`s), the definition
    /// the byte-level split must keep to.
    static func reference(_ query: String?, rule: QueryKeyRule) -> String {
        guard let query, !query.isEmpty else { return "" }
        var pairs: [(name: Substring, value: Substring, text: Substring)] = []
        var changed = false
        for parameter in query.split(separator: "&", omittingEmptySubsequences: false) {
            if parameter.isEmpty {
                changed = true
                continue
            }
            let equals = parameter.firstIndex(of: "=")
            let name = parameter[..<(equals ?? parameter.endIndex)]
            let value = equals.map { parameter[parameter.index(after: $0)...] } ?? ""
            if rule.keeps(name) { pairs.append((name, value, parameter)) } else { changed = true }
        }
        let sorted = pairs.sorted { $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value }
        if !changed, sorted.map(\.text) == pairs.map(\.text) { return query }
        return sorted.map { String($0.text) }.joined(separator: "&")
    }

    @Test("every query of up to five symbols from a, b, 1, =, & and é is keyed as the definition keys it, under three rules")
    func agreesWithTheDefinition() {
        let symbols = ["a", "b", "1", "=", "&", "\u{E9}"]
        var queries = [""]
        var layer = [""]
        for _ in 1...5 {
            layer = layer.flatMap { prefix in symbols.map { prefix + $0 } }
            queries += layer
        }
        var checked = 0
        for query in queries {
            for rule in [QueryKeyRule.all, .include(["a", "\u{E9}"]), .exclude(["b"])] {
                let actual = CacheKeyBuilder.keyedQuery(query, rule: rule)
                if actual != Self.reference(query, rule: rule) {
                    Issue.record(
                        "\(query.debugDescription) under \(rule): \(actual.debugDescription), expected \(Self.reference(query, rule: rule).debugDescription)"
                    )
                    return
                }
                checked += 1
            }
        }
        #expect(checked == 3 * (1 + 6 + 36 + 216 + 1_296 + 7_776))
    }

    @Test("parameter order never splits an entry")
    func orderIndependent() {
        let orders = ["a=1&b=2&c=3", "c=3&b=2&a=1", "b=2&c=3&a=1"]
        let keyed = Set(orders.map { CacheKeyBuilder.keyedQuery($0, rule: .all) })
        #expect(keyed == ["a=1&b=2&c=3"])
    }

    @Test("QueryKeyRule.keeps")
    func keeps() {
        #expect(QueryKeyRule.all.keeps("anything"))
        #expect(QueryKeyRule.include(["id"]).keeps("id"))
        #expect(!QueryKeyRule.include(["id"]).keeps("page"))
        #expect(!QueryKeyRule.exclude(["id"]).keeps("id"))
        #expect(QueryKeyRule.exclude(["id"]).keeps("page"))
    }
}

@Suite("CacheKeyBuilder.key")
struct CacheKeyTests {
    @Test("format v1|scheme://host|path?query|fingerprint")
    func format() {
        let users = route()
        let key = CacheKeyBuilder.key(route: users, host: "127.0.0.1:9000", path: "/api/users/7", keyedQuery: "a=1&b=2")
        #expect(key == "v1|http://127.0.0.1:9000|/api/users/7?a=1&b=2|\(users.fingerprint)")
    }

    @Test("no keyed query leaves out the ?")
    func withoutQuery() {
        let users = route()
        let key = CacheKeyBuilder.key(route: users, host: "127.0.0.1:9000", path: "/api/x", keyedQuery: "")
        #expect(key == "v1|http://127.0.0.1:9000|/api/x|\(users.fingerprint)")
    }

    @Test("every part is copied whole: empty ones, long ones, bytes beyond ASCII")
    func exactParts() {
        let users = route()
        let long = "/" + String(repeating: "seg\u{E9}/", count: 300)
        #expect(CacheKeyBuilder.key(route: users, host: "", path: "", keyedQuery: "") == "v1|http://||\(users.fingerprint)")
        #expect(
            CacheKeyBuilder.key(route: users, host: "h\u{F6}st", path: long, keyedQuery: "q=\u{1F600}")
                == "v1|http://h\u{F6}st|\(long)?q=\u{1F600}|\(users.fingerprint)")
    }

    @Test("the scheme is the origin's")
    func httpsScheme() {
        let secure = route(origin: Origin(url: "https://Example.com")!)
        let key = CacheKeyBuilder.key(route: secure, host: "example.com", path: "/", keyedQuery: "")
        #expect(key.hasPrefix("v1|https://example.com|/|"))
    }

    @Test("the fingerprint is 16 lower-case hex digits, FNV-1a of the route's key rules")
    func fingerprintShape() {
        let fingerprint = route().fingerprint
        #expect(fingerprint.count == 16)
        #expect(fingerprint.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(FNV1a.hex("") == "cbf29ce484222325")
        #expect(FNV1a.hex("a") == "af63dc4c8601ec8c")
    }

    @Test("keyed header names are key.headers and forward_headers, lower-cased, sorted, once each")
    func keyedHeaderNames() {
        let keyed = route(keyHeaders: ["Accept-Language"], forwardHeaders: ["X-Tenant", "accept-language"])
        #expect(keyed.keyedHeaderNames == ["accept-language", "x-tenant"])
        #expect(route().keyedHeaderNames.isEmpty)
    }

    @Test("request headers never enter the primary key; keyed ones select a variant under it")
    func variantKey() {
        let keyed = route(keyHeaders: ["Accept-Language"])
        let primary = CacheKeyBuilder.key(route: keyed, host: "h", path: "/p", keyedQuery: "")
        #expect(primary == "v1|http://h|/p|\(keyed.fingerprint)")
        let secondary = secondaryKey(varyNames: keyed.keyedHeaderNames, requestHeaders: [HTTPField(name: "Accept-Language", value: "en")])
        #expect(!secondary.isEmpty)
        #expect(CacheEntry.variantKey(primaryKey: primary, secondaryKey: secondary) == primary + "|v:" + secondary)
    }

    /// The secondary key a route's keyed headers give for `lines` (`Name: value` each).
    private func keyedVariant(_ route: Route, _ lines: [String]) -> String {
        let fields = lines.map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return HTTPField(name: String(parts[0]), value: String(parts[1].dropFirst()))
        }
        return secondaryKey(varyNames: route.keyedHeaderNames, requestHeaders: fields)
    }

    @Test(
        "equivalent keyed header values select the same variant",
        arguments: [
            ["Accept-Language: en, fr"], ["accept-language: en,fr"], ["Accept-Language: en ,  fr"],
            ["Accept-Language: en", "Accept-Language: fr"], ["ACCEPT-LANGUAGE:   en,\tfr  "], ["Accept-Language: EN, Fr"],
        ])
    func equivalentHeaderValues(_ lines: [String]) {
        let keyed = route(keyHeaders: ["Accept-Language"])
        #expect(keyedVariant(keyed, lines) == keyedVariant(keyed, ["Accept-Language: en,fr"]))
    }

    @Test("runs of spaces inside a keyed header value collapse")
    func innerSpaceRunsCollapse() {
        let keyed = route(keyHeaders: ["x-variant"])
        #expect(keyedVariant(keyed, ["X-Variant: a b"]) == keyedVariant(keyed, ["X-Variant: a   b"]))
    }

    @Test("distinct keyed header values select distinct variants; absent differs from empty")
    func distinctHeaderValues() {
        let keyed = route(keyHeaders: ["accept-language"])
        let english = keyedVariant(keyed, ["Accept-Language: en"])
        let french = keyedVariant(keyed, ["Accept-Language: fr"])
        let absent = keyedVariant(keyed, ["Other: x"])
        let empty = keyedVariant(keyed, ["Accept-Language: "])
        #expect(english != french)
        #expect(absent != empty)
        #expect(absent != english)
    }

    @Test("unkeyed headers do not change the variant")
    func unkeyedHeadersIgnored() {
        let keyed = route(keyHeaders: ["accept-language"])
        #expect(keyedVariant(keyed, ["Accept-Language: en"]) == keyedVariant(keyed, ["Accept-Language: en", "Cookie: a=1", "X-Other: y"]))
        #expect(keyedVariant(route(), ["Accept-Language: en", "Cookie: a=1"]) == "")
    }

    @Test("the route name and match are not part of the key")
    func nameNotInKey() {
        let before = route(name: "users", match: "/api/*")
        let renamed = route(name: "people", match: "/api/users/*")
        #expect(before.fingerprint == renamed.fingerprint)
        let key1 = CacheKeyBuilder.key(route: before, host: "h", path: "/api/users/1", keyedQuery: "")
        let key2 = CacheKeyBuilder.key(route: renamed, host: "h", path: "/api/users/1", keyedQuery: "")
        #expect(key1 == key2)
        #expect(!key2.contains("people"))
    }

    @Test("freshness rules do not change the fingerprint")
    func policyNotInFingerprint() {
        #expect(route().fingerprint == route(policy: RoutePolicy(ttl: 60, maxTTL: 600)).fingerprint)
    }

    @Test("header names and set order do not change the fingerprint")
    func fingerprintStableUnderSpelling() {
        #expect(route(keyHeaders: ["Accept-Language"]).fingerprint == route(keyHeaders: ["accept-language"]).fingerprint)
        #expect(route(keyQuery: .include(["a", "b"])).fingerprint == route(keyQuery: .include(["b", "a"])).fingerprint)
        #expect(route(keyHeaders: ["b", "a"]).fingerprint == route(keyHeaders: ["a", "b"]).fingerprint)
        #expect(route(keyQuery: .include(["a", "b"])).fingerprint != route(keyQuery: .exclude(["a", "b"])).fingerprint)
    }

    struct RuleChange: Sendable, CustomTestStringConvertible {
        let note: String
        let changed: Route
        var testDescription: String { note }
    }

    static let ruleChanges: [RuleChange] = [
        .init(note: "query include", changed: route(keyQuery: .include(["id"]))),
        .init(note: "query exclude", changed: route(keyQuery: .exclude(["id"]))),
        .init(note: "query include of nothing", changed: route(keyQuery: .include([]))),
        .init(note: "keyed headers", changed: route(keyHeaders: ["accept-language"])),
        .init(note: "forwarded headers", changed: route(forwardHeaders: ["x-tenant"])),
        .init(note: "preserve_host", changed: route(preserveHost: true)),
        .init(note: "origin authority", changed: route(origin: Origin(url: "http://127.0.0.1:9001")!)),
        .init(note: "origin scheme", changed: route(origin: Origin(url: "https://127.0.0.1:9000")!)),
        .init(note: "origin base path", changed: route(origin: Origin(url: "http://127.0.0.1:9000/v2")!)),
    ]

    @Test("the fingerprint changes when key rules change", arguments: ruleChanges)
    func fingerprintChanges(_ c: RuleChange) {
        let base = route()
        #expect(c.changed.fingerprint != base.fingerprint)
        let baseKey = CacheKeyBuilder.key(route: base, host: "h", path: "/p", keyedQuery: "")
        let changedKey = CacheKeyBuilder.key(route: c.changed, host: "h", path: "/p", keyedQuery: "")
        #expect(baseKey != changedKey)
    }

    @Test("purge patterns see path?keyed-query")
    func purgeTarget() {
        let users = route()
        let key = CacheKeyBuilder.key(route: users, host: "h", path: "/api/x", keyedQuery: "a=1")
        #expect(CacheKeyBuilder.purgeTarget(ofKey: key) == "/api/x?a=1")
        #expect(CacheKeyBuilder.purgeTarget(ofKey: "v1|only") == nil)
    }
}

@Suite("Origin")
struct OriginTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let url: String
        let scheme: String?
        let authority: String?
        let basePath: String?
        var testDescription: String { "\(url) → \(scheme.map { "\($0) \(authority!) \"\(basePath!)\"" } ?? "nil")" }
    }

    static let cases: [Case] = [
        .init(url: "http://127.0.0.1:9000", scheme: "http", authority: "127.0.0.1:9000", basePath: ""),
        .init(url: "https://example.com", scheme: "https", authority: "example.com", basePath: ""),
        .init(url: "HTTPS://Example.COM:8443/Prefix/", scheme: "https", authority: "example.com:8443", basePath: "/Prefix"),
        .init(url: "http://example.com/", scheme: "http", authority: "example.com", basePath: ""),
        .init(url: "http://example.com/a/b//", scheme: "http", authority: "example.com", basePath: "/a/b"),
        .init(url: "http://[::1]:9000/x", scheme: "http", authority: "[::1]:9000", basePath: "/x"),
        .init(url: "ftp://example.com", scheme: nil, authority: nil, basePath: nil),
        .init(url: "example.com:9000", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http:///path", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://user:pw@example.com", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://example.com?x=1", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://example.com/a?x=1", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://example.com/#top", scheme: nil, authority: nil, basePath: nil),
        .init(url: "http://exa mple.com", scheme: nil, authority: nil, basePath: nil),
    ]

    @Test("Origin(url:)", arguments: cases)
    func parse(_ c: Case) {
        let parsed = Origin(url: c.url)
        #expect(parsed?.scheme == c.scheme)
        #expect(parsed?.authority == c.authority)
        #expect(parsed?.basePath == c.basePath)
        if let parsed, let scheme = c.scheme, let authority = c.authority {
            #expect(parsed.schemeAndAuthority == "\(scheme)://\(authority)")
        }
    }
}
