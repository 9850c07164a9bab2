/// Value normalisation for Vary secondary keys (RFC 9111 §4.1).
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
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inQuote = false
                }
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
