/// A bare item of a Structured Field (RFC 8941 §3.3).
public enum StructuredFieldItem: Sendable, Equatable {
    /// An Integer (§3.3.1), at most 15 digits.
    case integer(Int64)
    /// A Decimal (§3.3.2), kept as its text (paca never computes with one).
    case decimal(String)
    /// A String (§3.3.3), unescaped.
    case string(String)
    /// A Token (§3.3.4).
    case token(String)
    /// A Byte Sequence (§3.3.5), as its base64 text.
    case byteSequence(String)
    /// A Boolean (§3.3.6).
    case boolean(Bool)
}

/// The value of one Dictionary member (RFC 8941 §3.2): an Item or an Inner List. Parameters
/// are parsed (they must be valid) and dropped: nothing paca reads from a Dictionary uses them.
public enum StructuredFieldMember: Sendable, Equatable {
    /// A bare Item; a member without `=value` is `.item(.boolean(true))`.
    case item(StructuredFieldItem)
    /// An Inner List of bare Items.
    case innerList([StructuredFieldItem])
}

/// An RFC 8941 Dictionary, parsed with the algorithm of RFC 8941 §4.2.2: keys in first-seen
/// order, and a repeated key keeps its position with the last value ("all but the last instance
/// are ignored"). Parsing is strict: any deviation fails the whole field.
public struct StructuredFieldDictionary: Sendable, Equatable {
    /// The members in order; keys are unique.
    public var members: [(key: String, value: StructuredFieldMember)]

    /// Parses the field lines of one field, combined as RFC 8941 §4.2 says (joined by `,`).
    /// `nil` when the combined value is not a valid Dictionary.
    public init?(fieldValues: [String]) {
        var parser = Parser(Array(fieldValues.joined(separator: ",").utf8))
        guard let members = parser.parseField() else { return nil }
        self.members = members
    }

    /// Whether the Dictionary has no member (an empty field value is a valid, empty Dictionary).
    public var isEmpty: Bool { members.isEmpty }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// RFC 8941 §4.2 over bytes; every `parse…` returns `nil` on failure.
    private struct Parser {
        let input: [UInt8]
        var index = 0

        init(_ input: [UInt8]) { self.input = input }

        var peek: UInt8? { index < input.count ? input[index] : nil }

        mutating func skip(_ allowed: (UInt8) -> Bool) {
            while let c = peek, allowed(c) { index += 1 }
        }

        static func isSP(_ c: UInt8) -> Bool { c == 0x20 }
        static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        static func isLCAlpha(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
        static func isAlpha(_ c: UInt8) -> Bool { isLCAlpha(c) || (c >= 0x41 && c <= 0x5A) }

        /// §4.2: leading and trailing SP are discarded; anything else left over fails.
        mutating func parseField() -> [(key: String, value: StructuredFieldMember)]? {
            skip(Self.isSP)
            guard let members = parseDictionary() else { return nil }
            skip(Self.isSP)
            return index == input.count ? members : nil
        }

        /// §4.2.2.
        mutating func parseDictionary() -> [(key: String, value: StructuredFieldMember)]? {
            var members: [(key: String, value: StructuredFieldMember)] = []
            while peek != nil {
                guard let key = parseKey() else { return nil }
                let member: StructuredFieldMember
                if peek == UInt8(ascii: "=") {
                    index += 1
                    guard let value = parseItemOrInnerList() else { return nil }
                    member = value
                } else {
                    guard parseParameters() else { return nil }
                    member = .item(.boolean(true))
                }
                if let existing = members.firstIndex(where: { $0.key == key }) {
                    members[existing].value = member
                } else {
                    members.append((key, member))
                }
                skip(Self.isOWS)
                guard let c = peek else { return members }
                guard c == UInt8(ascii: ",") else { return nil }
                index += 1
                skip(Self.isOWS)
                if peek == nil { return nil }  // a trailing comma
            }
            return members
        }

        /// §4.2.1.1.
        mutating func parseItemOrInnerList() -> StructuredFieldMember? {
            if peek == UInt8(ascii: "(") { return parseInnerList().map(StructuredFieldMember.innerList) }
            guard let item = parseBareItem(), parseParameters() else { return nil }
            return .item(item)
        }

        /// §4.2.1.2.
        mutating func parseInnerList() -> [StructuredFieldItem]? {
            index += 1  // "("
            var items: [StructuredFieldItem] = []
            while peek != nil {
                skip(Self.isSP)
                if peek == UInt8(ascii: ")") {
                    index += 1
                    return parseParameters() ? items : nil
                }
                guard let item = parseBareItem(), parseParameters() else { return nil }
                items.append(item)
                guard let c = peek, c == 0x20 || c == UInt8(ascii: ")") else { return nil }
            }
            return nil
        }

        /// §4.2.3.2: parsed for validity, then dropped.
        mutating func parseParameters() -> Bool {
            while peek == UInt8(ascii: ";") {
                index += 1
                skip(Self.isSP)
                guard parseKey() != nil else { return false }
                if peek == UInt8(ascii: "=") {
                    index += 1
                    guard parseBareItem() != nil else { return false }
                }
            }
            return true
        }

        /// §4.2.3.3: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
        mutating func parseKey() -> String? {
            guard let first = peek, Self.isLCAlpha(first) || first == UInt8(ascii: "*") else { return nil }
            let start = index
            skip {
                Self.isLCAlpha($0) || Self.isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                    || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "*")
            }
            return String(decoding: input[start..<index], as: UTF8.self)
        }

        /// §4.2.3.1.
        mutating func parseBareItem() -> StructuredFieldItem? {
            guard let c = peek else { return nil }
            if c == UInt8(ascii: "-") || Self.isDigit(c) { return parseNumber() }
            if c == UInt8(ascii: "\"") { return parseString() }
            if c == UInt8(ascii: "*") || Self.isAlpha(c) { return parseToken() }
            if c == UInt8(ascii: ":") { return parseByteSequence() }
            if c == UInt8(ascii: "?") { return parseBoolean() }
            return nil
        }

        /// §4.2.4: Integer (≤ 15 digits) or Decimal (≤ 12 integer digits, 1–3 fraction digits).
        mutating func parseNumber() -> StructuredFieldItem? {
            var negative = false
            if peek == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            guard let first = peek, Self.isDigit(first) else { return nil }
            var digits: [UInt8] = []
            var dot: Int?
            while let c = peek {
                if Self.isDigit(c) {
                    digits.append(c)
                } else if c == UInt8(ascii: "."), dot == nil {
                    guard digits.count <= 12 else { return nil }
                    dot = digits.count
                    digits.append(c)
                } else {
                    break
                }
                index += 1
                if dot == nil, digits.count > 15 { return nil }
                if dot != nil, digits.count > 16 { return nil }
            }
            let text = (negative ? "-" : "") + String(decoding: digits, as: UTF8.self)
            guard let dot else { return Int64(text).map(StructuredFieldItem.integer) }
            let fraction = digits.count - dot - 1
            guard fraction >= 1, fraction <= 3 else { return nil }
            return .decimal(text)
        }

        /// §4.2.5: printable ASCII; `\` escapes only `"` and `\`.
        mutating func parseString() -> StructuredFieldItem? {
            index += 1  // opening quote
            var out: [UInt8] = []
            while let c = peek {
                index += 1
                if c == UInt8(ascii: "\\") {
                    guard let next = peek, next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") else { return nil }
                    out.append(next)
                    index += 1
                } else if c == UInt8(ascii: "\"") {
                    return .string(String(decoding: out, as: UTF8.self))
                } else if c < 0x20 || c > 0x7E {
                    return nil
                } else {
                    out.append(c)
                }
            }
            return nil  // no closing quote
        }

        /// §4.2.6: `( ALPHA / "*" ) *( tchar / ":" / "/" )`.
        mutating func parseToken() -> StructuredFieldItem? {
            let start = index
            index += 1
            skip { HTTPToken.isTChar($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") }
            return .token(String(decoding: input[start..<index], as: UTF8.self))
        }

        /// §4.2.7: `:` base64 `:`.
        mutating func parseByteSequence() -> StructuredFieldItem? {
            index += 1
            let start = index
            skip { Self.isAlpha($0) || Self.isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "=") }
            guard peek == UInt8(ascii: ":") else { return nil }
            let text = String(decoding: input[start..<index], as: UTF8.self)
            index += 1
            return .byteSequence(text)
        }

        /// §4.2.8: `?0` or `?1`.
        mutating func parseBoolean() -> StructuredFieldItem? {
            index += 1
            guard let c = peek else { return nil }
            index += 1
            switch c {
            case UInt8(ascii: "1"): return .boolean(true)
            case UInt8(ascii: "0"): return .boolean(false)
            default: return nil
            }
        }
    }
}
