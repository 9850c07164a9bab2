/// Byte-level ASCII helpers. HTTP syntax is ASCII, so these avoid Foundation and Unicode
/// case mapping (which could change the length or meaning of a token).
enum ASCII {
    /// `s` with A–Z mapped to a–z; every other byte is kept.
    static func lowercased(_ s: String) -> String {
        // Most names looked up are lower-case already: the check reads the bytes in place.
        let needs =
            s.utf8.withContiguousStorageIfAvailable { bytes in bytes.contains { $0 >= 0x41 && $0 <= 0x5A } }
            ?? s.utf8.contains { $0 >= 0x41 && $0 <= 0x5A }
        if !needs { return s }
        var bytes = Array(s.utf8)
        for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] += 0x20 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `s` equals `lowercasedOther` ignoring ASCII case in `s`. Lengths first (a
    /// native string knows its own), then the bytes in place: this runs for every field of a
    /// request against every name looked up, and most are a different length.
    static func equalsLowercased(_ s: String, _ lowercasedOther: String) -> Bool {
        let a = s.utf8
        let b = lowercasedOther.utf8
        guard a.count == b.count else { return false }
        let inPlace = a.withContiguousStorageIfAvailable { x in
            b.withContiguousStorageIfAvailable { y in
                for index in 0..<x.count {
                    let p = x[index]
                    if (p >= 0x41 && p <= 0x5A ? p | 0x20 : p) != y[index] { return false }
                }
                return true
            }
        }
        if let inPlace, let result = inPlace { return result }
        return zip(a, b).allSatisfy { p, q in (p >= 0x41 && p <= 0x5A ? p | 0x20 : p) == q }
    }

    /// Whether a byte is optional whitespace (SP or HTAB, RFC 9110 §5.6.3).
    static func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    /// `s` without leading and trailing SP/HTAB (and stray CR/LF, which never belong in a value).
    static func trimmed(_ s: Substring) -> Substring {
        // By byte: these four are ASCII, and a search by `Character` runs grapheme breaking.
        let utf8 = s.utf8
        func ws(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, ws(utf8[start]) { start = utf8.index(after: start) }
        while end > start, ws(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        return s[start..<end]
    }

    /// `s` without leading and trailing whitespace, as a `String`.
    static func trimmed(_ s: String) -> String { String(trimmed(s[...])) }
}
