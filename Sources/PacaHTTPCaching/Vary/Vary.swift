/// The field names a response varies on (RFC 9111 §4.1): lowercased, deduplicated, sorted.
/// Returns `nil` for `Vary: *` (anywhere in any line), which no later request can match, and
/// `[]` when the response has no `Vary`. Members that are not tokens are dropped.
public func varyFieldNames(_ responseHeaders: [HTTPField]) -> [String]? {
    var names: Set<String> = []
    for member in responseHeaders.listMembers("vary") {
        if member == "*" { return nil }
        let lower = ASCII.lowercased(member)
        if HTTPToken.isToken(lower) { names.insert(lower) }
    }
    return names.sorted()
}

/// A deterministic secondary cache key for the request fields a response varies on
/// (RFC 9111 §4.1).
///
/// Each name (lowercased, deduplicated, sorted) contributes its value normalised as §4.1 allows:
/// all lines combined with `", "`, whitespace runs collapsed to one space, whitespace around
/// commas removed outside quoted strings, and the value lowercased for `accept-encoding`,
/// `accept-language` and `accept-charset`, whose tokens are case-insensitive. An absent field is
/// encoded differently from an empty one (§4.1: absent only matches absent). Values are
/// length-prefixed, so no value can forge another key. `[]` yields `""`.
public func secondaryKey(varyNames: [String], requestHeaders: [HTTPField]) -> String {
    let names = Set(varyNames.map { ASCII.lowercased(ASCII.trimmed($0)) }).filter { !$0.isEmpty }.sorted()
    var out = ""
    for name in names {
        if !out.isEmpty { out += "\n" }
        let lines = requestHeaders.values(name)
        if lines.isEmpty {
            out += name + "!"
            continue
        }
        var value = VaryNormalizer.normalize(lines.joined(separator: ", "))
        if name == "accept-encoding" || name == "accept-language" || name == "accept-charset" {
            value = ASCII.lowercased(value)
        }
        out += name + "=" + String(value.utf8.count) + ":" + value
    }
    return out
}

enum VaryNormalizer {
    /// Collapses whitespace and removes it around commas (outside quoted strings); trims.
    static func normalize(_ raw: String) -> String {
        var out: [UInt8] = []
        var inQuote = false
        var escaped = false
        var pendingSpace = false
        for b in raw.utf8 {
            if inQuote {
                out.append(b)
                if escaped { escaped = false }
                else if b == UInt8(ascii: "\\") { escaped = true }
                else if b == UInt8(ascii: "\"") { inQuote = false }
                continue
            }
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A {
                pendingSpace = true
                continue
            }
            if b == UInt8(ascii: ",") {
                pendingSpace = false
                // drop a trailing space before the comma
                out.append(b)
                continue
            }
            if pendingSpace, let last = out.last, last != UInt8(ascii: ",") { out.append(0x20) }
            pendingSpace = false
            if b == UInt8(ascii: "\"") { inQuote = true }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
