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

/// Token syntax (RFC 9110 §5.6.2).
enum HTTPToken {
    /// Whether `b` is a `tchar`.
    static func isTChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// Whether `s` is a non-empty token.
    static func isToken(_ s: String) -> Bool {
        var any = false
        for b in s.utf8 {
            if !isTChar(b) { return false }
            any = true
        }
        return any
    }
}

/// Comma-separated lists (RFC 9110 §5.6.1) and quoted strings (§5.6.4).
enum HTTPList {
    /// Splits a field value at commas that are not inside a quoted string. Members are trimmed
    /// and empty members dropped. An unterminated quote runs to the end of the value.
    static func split(_ value: String) -> [String] {
        var result: [String] = []
        var current: [UInt8] = []
        var inQuote = false
        var escaped = false
        for b in value.utf8 {
            if inQuote {
                current.append(b)
                if escaped { escaped = false }
                else if b == UInt8(ascii: "\\") { escaped = true }
                else if b == UInt8(ascii: "\"") { inQuote = false }
                continue
            }
            if b == UInt8(ascii: ",") {
                let member = ASCII.trimmed(String(decoding: current, as: UTF8.self))
                if !member.isEmpty { result.append(member) }
                current.removeAll(keepingCapacity: true)
                continue
            }
            if b == UInt8(ascii: "\"") { inQuote = true }
            current.append(b)
        }
        let member = ASCII.trimmed(String(decoding: current, as: UTF8.self))
        if !member.isEmpty { result.append(member) }
        return result
    }

    /// If `s` is a quoted string, its content with `\` escapes removed; otherwise `s` unchanged.
    /// A quoted string missing its closing quote yields the rest of the text.
    static func unquoted(_ s: String) -> String {
        guard s.utf8.first == UInt8(ascii: "\"") else { return s }
        var out: [UInt8] = []
        var escaped = false
        for b in s.utf8.dropFirst() {
            if escaped { out.append(b); escaped = false; continue }
            if b == UInt8(ascii: "\\") { escaped = true; continue }
            if b == UInt8(ascii: "\"") { break }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
