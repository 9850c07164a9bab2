/// Byte-level ASCII helpers. HTTP syntax is ASCII, so these avoid Foundation and Unicode
/// case mapping (which could change the length or meaning of a token).
enum ASCII {
    /// `s` with A–Z mapped to a–z; every other byte is kept.
    static func lowercased(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where b >= 0x41 && b <= 0x5A { needs = true; break }
        if !needs { return s }
        var bytes = Array(s.utf8)
        for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] += 0x20 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `s` equals `lowercasedOther` ignoring ASCII case in `s`.
    static func equalsLowercased(_ s: String, _ lowercasedOther: String) -> Bool {
        var a = s.utf8.makeIterator()
        var b = lowercasedOther.utf8.makeIterator()
        while true {
            let x = a.next()
            let y = b.next()
            switch (x, y) {
            case (nil, nil): return true
            case (nil, _), (_, nil): return false
            case let (.some(p), .some(q)):
                let lp = (p >= 0x41 && p <= 0x5A) ? p + 0x20 : p
                if lp != q { return false }
            }
        }
    }

    /// Whether a byte is optional whitespace (SP or HTAB, RFC 9110 §5.6.3).
    static func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    /// `s` without leading and trailing SP/HTAB (and stray CR/LF, which never belong in a value).
    static func trimmed(_ s: Substring) -> Substring {
        var start = s.startIndex
        var end = s.endIndex
        func ws(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
        while start < end, ws(s[start]) { start = s.index(after: start) }
        while end > start, ws(s[s.index(before: end)]) { end = s.index(before: end) }
        return s[start..<end]
    }

    /// `s` without leading and trailing whitespace, as a `String`.
    static func trimmed(_ s: String) -> String { String(trimmed(s[...])) }
}
