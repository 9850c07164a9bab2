/// Builds cache keys (DESIGN.md §3): `v1|scheme://host[:port]|path?keyed-query|fingerprint`,
/// plus `|h:name=value` per keyed request header. Keyed query parameters are sorted by name,
/// then value, so parameter order never splits an entry.
public enum CacheKeyBuilder {
    /// The keyed query of `query` under `rule`, sorted; `""` when nothing is keyed.
    public static func keyedQuery(_ query: String?, rule: QueryKeyRule) -> String {
        guard let query, !query.isEmpty else { return "" }
        var pairs: [(name: Substring, value: Substring, text: Substring)] = []
        for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = parameter.firstIndex(of: "=") {
                name = parameter[..<equals]
                value = parameter[parameter.index(after: equals)...]
            } else {
                name = parameter
                value = ""
            }
            guard rule.keeps(name) else { continue }
            pairs.append((name, value, parameter))
        }
        if pairs.count > 1 {
            pairs.sort { $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value }
        }
        return pairs.map { String($0.text) }.joined(separator: "&")
    }

    /// The primary key of a request on `route`; `host` is the authority keyed (the origin's, or
    /// the client's with `preserve_host`). Request headers never enter the primary key: the
    /// route's `key.headers` and the response's `Vary` select a variant under it.
    public static func key(route: Route, host: String, path: String, keyedQuery: String) -> String {
        var key = "v1|"
        key.reserveCapacity(32 + host.utf8.count + path.utf8.count + keyedQuery.utf8.count)
        key += route.origin.scheme
        key += "://"
        key += host
        key += "|"
        key += path
        if !keyedQuery.isEmpty {
            key += "?"
            key += keyedQuery
        }
        key += "|"
        key += route.fingerprint
        return key
    }

    /// The part of a key that purge patterns match: `path?keyed-query`.
    public static func purgeTarget(ofKey key: String) -> Substring? {
        // Between the second and third `|` (no array of parts: purges run this over every key).
        guard let first = key.firstIndex(of: "|") else { return nil }
        let afterFirst = key.index(after: first)
        guard let second = key[afterFirst...].firstIndex(of: "|") else { return nil }
        let start = key.index(after: second)
        let end = key[start...].firstIndex(of: "|") ?? key.endIndex
        return key[start..<end]
    }
}
