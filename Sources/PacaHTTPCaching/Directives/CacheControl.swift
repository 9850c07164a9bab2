/// Parsed `Cache-Control` directives (RFC 9111 §5.2), for requests and responses alike.
///
/// Parsing never fails: unknown directives are ignored, names compare case-insensitively,
/// arguments may be tokens or quoted strings (§5.2), and every field line and comma list member
/// counts. Numbers follow `delta-seconds` (§1.2.2): values above 2^31 clamp to 2^31.
///
/// Invalid or conflicting values resolve to the most restrictive meaning (§4.2.1: "either the
/// first occurrence should be used or the response should be considered stale"; conflicting
/// directives honour the most restrictive):
/// - `max-age` / `s-maxage`: an invalid value (`-1`, `abc`, `100a`, `1.5`, empty, whitespace
///   around `=`) or two different values become `0`, i.e. the response is stale (and, in a
///   request, forces revalidation).
/// - `stale-while-revalidate` / `stale-if-error`: invalid values are ignored; different values
///   become `0` (no stale serving).
/// - `min-fresh`: invalid values are ignored; duplicates keep the largest.
/// - `max-stale`: invalid values are ignored; duplicates keep the smallest (a number beats
///   unlimited).
public struct CacheControl: Sendable, Equatable {
    /// `no-store`: do not store any part of the request or response (§5.2.1.5, §5.2.2.5).
    public var noStore: Bool = false
    /// Unqualified `no-cache`: a stored response must be validated before every use
    /// (§5.2.1.4, §5.2.2.4). A qualified `no-cache="a, b"` only fills `noCacheFields`, unless the
    /// list is empty, which counts as unqualified.
    public var noCache: Bool = false
    /// Unqualified `private` (§5.2.2.7): a shared cache must not store the response. A qualified
    /// `private="x"` only fills `privateFields`, unless the list is empty (then unqualified).
    public var isPrivate: Bool = false
    /// `public` (§5.2.2.9): storable even when it otherwise would not be (e.g. with Authorization).
    public var isPublic: Bool = false
    /// `must-revalidate` (§5.2.2.2): once stale, never served without successful validation.
    public var mustRevalidate: Bool = false
    /// `proxy-revalidate` (§5.2.2.8): `must-revalidate` for shared caches only.
    public var proxyRevalidate: Bool = false
    /// `no-transform` (§5.2.1.6, §5.2.2.6): intermediaries must not transform the content.
    public var noTransform: Bool = false
    /// `immutable` (RFC 8246): the response will not change while fresh.
    public var immutable: Bool = false
    /// `only-if-cached` (§5.2.1.7): answer from the cache or with 504.
    public var onlyIfCached: Bool = false
    /// `must-understand` (§5.2.2.3): store only if the status code is understood; then
    /// `no-store` is overridden.
    public var mustUnderstand: Bool = false
    /// Lowercased field names from `no-cache="a, b"`, deduplicated, in first-seen order.
    public var noCacheFields: [String] = []
    /// Lowercased field names from `private="a, b"`, deduplicated, in first-seen order.
    public var privateFields: [String] = []
    /// `max-age` seconds (§5.2.1.1, §5.2.2.1); `nil` when absent.
    public var maxAge: Int64?
    /// `s-maxage` seconds (§5.2.2.10); `nil` when absent.
    public var sMaxAge: Int64?
    /// `min-fresh` seconds (§5.2.1.3); `nil` when absent.
    public var minFresh: Int64?
    /// `stale-while-revalidate` seconds (RFC 5861 §3); `nil` when absent.
    public var staleWhileRevalidate: Int64?
    /// `stale-if-error` seconds (RFC 5861 §4); `nil` when absent.
    public var staleIfError: Int64?
    /// `max-stale` (§5.2.1.2); `nil` when absent.
    public var maxStale: MaxStale?
    /// Names of directives that were invalid or repeated with different values (lowercased,
    /// sorted). Diagnostic only: their effect is already folded into the fields above.
    public var malformed: [String] = []

    /// An empty set of directives (nothing present).
    public init() {}

    /// Parses every `Cache-Control` field line of a message, in order.
    public init(fieldValues: [String]) {
        var seen: [String: Int64] = [:]  // first valid value of numeric directives
        var bad: Set<String> = []
        var noCacheQualified: [String] = []
        var privateQualified: [String] = []

        for line in fieldValues {
            for member in HTTPList.split(line) {
                let (name, argument) = Self.splitDirective(member)
                switch name {
                case "no-store": noStore = true
                case "no-transform": noTransform = true
                case "public": isPublic = true
                case "must-revalidate": mustRevalidate = true
                case "proxy-revalidate": proxyRevalidate = true
                case "immutable": immutable = true
                case "only-if-cached": onlyIfCached = true
                case "must-understand": mustUnderstand = true
                case "no-cache", "private":
                    var fields: [String] = []
                    if let argument {
                        for f in HTTPList.split(HTTPList.unquoted(argument)) {
                            let lower = ASCII.lowercased(f)
                            if HTTPToken.isToken(lower) { fields.append(lower) }
                        }
                    }
                    if name == "no-cache" {
                        if fields.isEmpty { noCache = true } else { noCacheQualified += fields }
                    } else {
                        if fields.isEmpty { isPrivate = true } else { privateQualified += fields }
                    }
                case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error", "min-fresh":
                    let parsed = argument.flatMap(DeltaSeconds.parse)
                    let staleOnInvalid = name == "max-age" || name == "s-maxage"
                    guard let value = parsed else {
                        bad.insert(name)
                        if staleOnInvalid { seen[name] = 0; Self.store(0, name: name, into: &self) }
                        continue
                    }
                    if let previous = seen[name] {
                        if previous != value {
                            bad.insert(name)
                            switch name {
                            case "min-fresh":
                                let m = max(previous, value)
                                seen[name] = m
                                Self.store(m, name: name, into: &self)
                            default:
                                seen[name] = 0
                                Self.store(0, name: name, into: &self)
                            }
                        }
                    } else {
                        seen[name] = value
                        Self.store(value, name: name, into: &self)
                    }
                case "max-stale":
                    let next: MaxStale
                    if let argument {
                        guard let s = DeltaSeconds.parse(argument) else { bad.insert(name); continue }
                        next = .seconds(s)
                    } else {
                        next = .unlimited
                    }
                    if let current = maxStale, current != next { bad.insert(name) }
                    switch (maxStale, next) {
                    case (nil, _), (.unlimited?, _): maxStale = next
                    case let (.seconds(a)?, .seconds(b)): maxStale = .seconds(min(a, b))
                    case (.seconds?, .unlimited): break
                    }
                default:
                    continue  // unknown extension directives are ignored (§5.2.3)
                }
            }
        }
        noCacheFields = Self.dedupe(noCacheQualified)
        privateFields = Self.dedupe(privateQualified)
        malformed = bad.sorted()
    }

    /// Parses the `Cache-Control` lines of a header list.
    public init(headers: [HTTPField]) {
        self.init(fieldValues: headers.values("cache-control"))
    }

    /// Whether the response carries explicit freshness for a shared cache: `s-maxage` or `max-age`.
    /// (`Expires` is a separate field; see `evaluateStorability`.)
    public var hasExplicitFreshnessDirective: Bool { sMaxAge != nil || maxAge != nil }

    private static func store(_ value: Int64, name: String, into cc: inout CacheControl) {
        switch name {
        case "max-age": cc.maxAge = value
        case "s-maxage": cc.sMaxAge = value
        case "stale-while-revalidate": cc.staleWhileRevalidate = value
        case "stale-if-error": cc.staleIfError = value
        case "min-fresh": cc.minFresh = value
        default: break
        }
    }

    /// Splits `name[=argument]`; the name is lowercased and trimmed, the argument trimmed
    /// (still quoted if it was). `name=` yields an empty argument, and so does whitespace next to
    /// the `=` (`max-age = 5`): the grammar `token [ "=" ( token / quoted-string ) ]` (§5.2)
    /// allows none there, and an empty argument is invalid for every directive that takes one.
    private static func splitDirective(_ member: String) -> (String, String?) {
        guard let eq = member.firstIndex(of: "=") else {
            return (ASCII.lowercased(ASCII.trimmed(member)), nil)
        }
        let name = ASCII.lowercased(String(ASCII.trimmed(member[..<eq])))
        let after = member.index(after: eq)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        if eq > member.startIndex, isSpace(member[member.index(before: eq)]) { return (name, "") }
        if after < member.endIndex, isSpace(member[after]) { return (name, "") }
        let argument = String(ASCII.trimmed(member[after...]))
        return (name, argument)
    }

    private static func dedupe(_ names: [String]) -> [String] {
        var seen: Set<String> = []
        var out: [String] = []
        for n in names where seen.insert(n).inserted { out.append(n) }
        return out
    }
}
