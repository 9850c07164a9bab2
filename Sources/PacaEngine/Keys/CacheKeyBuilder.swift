/// Builds cache keys (DESIGN.md §3): `v1|scheme://host[:port]|path?keyed-query|fingerprint`,
/// plus `|h:name=value` per keyed request header. Keyed query parameters are sorted by name,
/// then value, so parameter order never splits an entry.
public enum CacheKeyBuilder {
    /// The keyed query of `query` under `rule`, sorted; `""` when nothing is keyed.
    public static func keyedQuery(_ query: String?, rule: QueryKeyRule) -> String {
        guard let query, !query.isEmpty else { return "" }
        // Runs on every hit with a query: one array of parameters, and a new string only when
        // the keyed query differs from the query as sent.
        var pairs: [(name: Substring, value: Substring, text: Substring)] = []
        pairs.reserveCapacity(query.utf8.count(where: { $0 == UInt8(ascii: "&") }) + 1)
        var dropped = false
        var emptyParts = false
        var rest = query[...]
        while true {
            let ampersand = rest.utf8.firstIndex(of: UInt8(ascii: "&"))
            let parameter = rest[..<(ampersand ?? rest.endIndex)]
            if let ampersand { rest = rest[rest.index(after: ampersand)...] }
            if parameter.isEmpty {
                emptyParts = true
            } else {
                let name: Substring
                let value: Substring
                if let equals = parameter.firstIndex(of: "=") {
                    name = parameter[..<equals]
                    value = parameter[parameter.index(after: equals)...]
                } else {
                    name = parameter
                    value = ""
                }
                if rule.keeps(name) {
                    pairs.append((name, value, parameter))
                } else {
                    dropped = true
                }
            }
            if ampersand == nil { break }
        }
        var sorted = true
        if pairs.count > 1 {
            for index in 1..<pairs.count where Self.precedes(pairs[index], pairs[index - 1]) {
                sorted = false
                break
            }
            if !sorted { pairs.sort(by: Self.precedes) }
        }
        if sorted, !dropped, !emptyParts { return query }
        var length = max(0, pairs.count - 1)
        for pair in pairs { length += pair.text.utf8.count }
        var keyed = ""
        if length > 15 { keyed.reserveCapacity(length) }
        for (index, pair) in pairs.enumerated() {
            if index > 0 { keyed += "&" }
            keyed += pair.text
        }
        return keyed
    }

    /// The order of keyed parameters: by name, then value.
    @inline(__always)
    private static func precedes(
        _ lhs: (name: Substring, value: Substring, text: Substring), _ rhs: (name: Substring, value: Substring, text: Substring)
    ) -> Bool {
        lhs.name != rhs.name ? lhs.name < rhs.name : lhs.value < rhs.value
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
