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
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inQuote = false
                }
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
