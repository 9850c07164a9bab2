/// Value normalisation for Vary secondary keys (RFC 9111 §4.1).
enum VaryNormalizer {
    /// Collapses whitespace and removes it around commas (outside quoted strings); trims.
    static func normalize(_ raw: String) -> String {
        // Without whitespace every byte is kept as it is.
        if !raw.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { return raw }
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

extension VaryNormalizer {
    /// Fields whose value is a list of preferences that mean the same whatever their order,
    /// spacing, case and spelling of weights (RFC 9110 §12.5): two requests that ask for the same
    /// thing share one variant.
    static let preferenceLists: Set<String> = ["accept", "accept-language", "accept-encoding", "accept-charset"]

    /// A preference list in one canonical form: members lower-cased, parameters without spaces,
    /// weights written shortest (`q=1` dropped, `q=0.500` → `q=0.5`), duplicates dropped, and the
    /// members ordered by weight (highest first), then by name. A member that does not parse
    /// keeps the raw (whitespace-normalised) value, so nothing is ever merged by mistake.
    static func normalizePreferenceList(_ raw: String) -> String {
        // One bare member (`en`, `gzip`, `text/html`): its canonical form is itself, lower-cased.
        if !raw.utf8.isEmpty, raw.utf8.allSatisfy(isBareMemberByte) { return ASCII.lowercased(raw) }
        struct Member: Hashable {
            var name: String
            var parameters: [String]
            var weight: Int  // thousandths
        }
        var members: [Member] = []
        for item in raw.split(separator: ",") {
            let parts = item.split(separator: ";").map { ASCII.lowercased(ASCII.trimmed(String($0))) }
            guard let name = parts.first, !name.isEmpty, !name.contains("\"") else {
                if ASCII.trimmed(String(item)).isEmpty { continue }
                return normalize(raw)
            }
            var weight = 1000
            var parameters: [String] = []
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { ASCII.trimmed(String($0)) }
                guard pair.count == 2, !pair[0].isEmpty else { return normalize(raw) }
                if pair[0] == "q" {
                    guard let parsed = Self.weight(pair[1]) else { return normalize(raw) }
                    weight = parsed
                } else {
                    parameters.append(pair[0] + "=" + pair[1])
                }
            }
            let member = Member(name: name, parameters: parameters, weight: weight)
            if !members.contains(member) { members.append(member) }
        }
        members.sort {
            $0.weight != $1.weight ? $0.weight > $1.weight : ($0.name, $0.parameters.joined()) < ($1.name, $1.parameters.joined())
        }
        return members.map { member in
            var text = ([member.name] + member.parameters).joined(separator: ";")
            if member.weight != 1000 {
                var digits = String(member.weight)
                while digits.count < 3 { digits = "0" + digits }
                while digits.hasSuffix("0") { digits.removeLast() }
                text += ";q=0" + (digits.isEmpty ? "" : "." + digits)
            }
            return text
        }.joined(separator: ",")
    }

    /// A byte of a member with no parameters, weight, list separator, quote or whitespace.
    private static func isBareMemberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0...0x20, 0x7F...0xFF, UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "\""): false
        default: true
        }
    }

    /// A `qvalue` (RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`) in thousandths; `nil` when invalid.
    static func weight(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, whole == "0" || whole == "1" else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        while fraction.count < 3 { fraction += "0" }
        let value = (whole == "1" ? 1000 : 0) + Int(fraction)!
        return value <= 1000 ? value : nil
    }
}
