/// Builds cache keys (DESIGN.md §3): `v1|scheme://host[:port]|path?keyed-query|fingerprint`,
/// plus `|h:name=value` per keyed request header. Keyed query parameters are sorted by name,
/// then value, so parameter order never splits an entry.
public enum CacheKeyBuilder {
    /// The keyed query of `query` under `rule`, sorted; `""` when nothing is keyed.
    public static func keyedQuery(_ query: String?, rule: QueryKeyRule) -> String {
        guard var query, !query.isEmpty else { return "" }
        // Runs on every hit with a query. A query as received is ASCII (a target's other bytes
        // are refused): byte ranges and byte order then give the same keyed query as
        // `Substring`s in `String` order, with no `Substring` made and one string built.
        query.makeContiguousUTF8()
        if let ascii = query.utf8.withContiguousStorageIfAvailable({ keyedASCIIQuery($0, query: query, rule: rule) }),
            let keyed = ascii
        {
            return keyed
        }
        // Anything else (a purge pattern, a URL from a log): the same, by `Substring`s, split at
        // the same bytes (never by `Character`, whose search runs grapheme breaking).
        var pairs: [(name: Substring, value: Substring, text: Substring)] = []
        var dropped = false
        var emptyParts = false
        for bytes in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
            guard !bytes.isEmpty else {
                emptyParts = true
                continue
            }
            let parameter = Substring(bytes)
            let equals = bytes.firstIndex(of: UInt8(ascii: "="))
            let name = equals.map { parameter[..<$0] } ?? parameter
            let value = equals.map { parameter[parameter.utf8.index(after: $0)...] } ?? ""
            if rule.keeps(name) {
                pairs.append((name, value, parameter))
            } else {
                dropped = true
            }
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

    /// One parameter of an ASCII query: byte offsets of its start, its first `=` (its end when
    /// it has none) and its end.
    private struct ParameterBounds {
        var start: Int
        var equals: Int
        var end: Int
    }

    /// `keyedQuery` for a query of ASCII bytes; `nil` when a byte is not ASCII (`String` order
    /// then decides, which byte order matches only for ASCII).
    private static func keyedASCIIQuery(_ bytes: UnsafeBufferPointer<UInt8>, query: String, rule: QueryKeyRule) -> String? {
        let count = bytes.count
        var ampersands = 0
        for byte in bytes {
            if byte >= 0x80 { return nil }
            if byte == UInt8(ascii: "&") { ampersands += 1 }
        }
        var parameters: [ParameterBounds] = []
        parameters.reserveCapacity(ampersands + 1)
        var dropped = false
        var emptyParts = false
        var start = 0
        var equals = -1
        for index in 0...count {
            if index < count {
                let byte = bytes[index]
                guard byte == UInt8(ascii: "&") else {
                    if equals < 0, byte == UInt8(ascii: "=") { equals = index }
                    continue
                }
            }
            if index == start {
                emptyParts = true
            } else {
                let bounds = ParameterBounds(start: start, equals: equals < 0 ? index : equals, end: index)
                if rule.keeps(name: UnsafeBufferPointer(rebasing: bytes[bounds.start..<bounds.equals])) {
                    parameters.append(bounds)
                } else {
                    dropped = true
                }
            }
            start = index + 1
            equals = -1
        }
        // By name, then value, byte by byte (a missing `=` is an empty value, as above).
        func precedes(_ lhs: ParameterBounds, _ rhs: ParameterBounds) -> Bool {
            let lhsName = UnsafeBufferPointer(rebasing: bytes[lhs.start..<lhs.equals])
            let rhsName = UnsafeBufferPointer(rebasing: bytes[rhs.start..<rhs.equals])
            if !lhsName.elementsEqual(rhsName) { return lhsName.lexicographicallyPrecedes(rhsName) }
            let lhsValue = UnsafeBufferPointer(rebasing: bytes[min(lhs.equals + 1, lhs.end)..<lhs.end])
            let rhsValue = UnsafeBufferPointer(rebasing: bytes[min(rhs.equals + 1, rhs.end)..<rhs.end])
            return lhsValue.lexicographicallyPrecedes(rhsValue)
        }
        var sorted = true
        if parameters.count > 1 {
            for index in 1..<parameters.count where precedes(parameters[index], parameters[index - 1]) {
                sorted = false
                break
            }
            if !sorted { parameters.sort(by: precedes) }
        }
        if sorted, !dropped, !emptyParts { return query }
        var length = max(0, parameters.count - 1)
        for parameter in parameters { length += parameter.end - parameter.start }
        return String(unsafeUninitializedCapacity: length) { buffer in
            var offset = 0
            for (index, parameter) in parameters.enumerated() {
                if index > 0 {
                    buffer[offset] = UInt8(ascii: "&")
                    offset += 1
                }
                let text = UnsafeBufferPointer(rebasing: bytes[parameter.start..<parameter.end])
                _ = UnsafeMutableBufferPointer(rebasing: buffer[offset...]).initialize(from: text)
                offset += text.count
            }
            return offset
        }
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
        // `v1|scheme://host|path[?query]|fingerprint`, written once into a string of its exact
        // size: seven `+=` cost about 2,600 instructions a hit, most of it String's append
        // machinery rather than bytes.
        let scheme = route.origin.scheme
        let fingerprint = route.fingerprint
        let query = keyedQuery.isEmpty ? 0 : 1 + keyedQuery.utf8.count
        let count = 3 + scheme.utf8.count + 3 + host.utf8.count + 1 + path.utf8.count + query + 1 + fingerprint.utf8.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            var offset = 0
            put("v1|", into: buffer, at: &offset)
            put(scheme, into: buffer, at: &offset)
            put("://", into: buffer, at: &offset)
            put(host, into: buffer, at: &offset)
            put("|", into: buffer, at: &offset)
            put(path, into: buffer, at: &offset)
            if query > 0 {
                put("?", into: buffer, at: &offset)
                put(keyedQuery, into: buffer, at: &offset)
            }
            put("|", into: buffer, at: &offset)
            put(fingerprint, into: buffer, at: &offset)
            return offset
        }
    }

    @inline(__always)
    private static func put(_ bytes: UnsafeBufferPointer<UInt8>, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: inout Int) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        precondition(offset + bytes.count <= buffer.count, "cache key longer than measured")
        (buffer.baseAddress! + offset).initialize(from: source, count: bytes.count)
        offset += bytes.count
    }

    @inline(__always)
    private static func put(_ text: String, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: inout Int) {
        // In place when the string's bytes are contiguous (always, for a native string): a
        // mutable copy for `withUTF8` cost a retain and a release per part.
        if text.utf8.withContiguousStorageIfAvailable({ put($0, into: buffer, at: &offset) }) != nil { return }
        var text = text
        text.withUTF8 { put($0, into: buffer, at: &offset) }
    }

    @inline(__always)
    private static func put(_ text: StaticString, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: inout Int) {
        text.withUTF8Buffer { put($0, into: buffer, at: &offset) }
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
