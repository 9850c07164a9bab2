/// A strict RFC 8259 JSON parser for configuration files: a syntax error names its line and
/// column, and the two things lenient parsers accept silently are refused with the JSON path
/// where they occur — a key given twice in one object (which value wins differs between
/// parsers, so the file does not say one thing) and a trailing comma before `]` or `}`.
struct StrictJSONParser {
    /// A refusal: where (JSON path, line, column) and what.
    struct Failure: Error, Equatable {
        /// Whether the text is not JSON at all (`true`), or is JSON this parser refuses (a
        /// duplicate key, a trailing comma).
        var isSyntaxError: Bool
        /// JSON path of the value being read (`$.routes[0]`).
        var path: String
        /// 1-based line of the offending byte.
        var line: Int
        /// 1-based column of the offending character on that line.
        var column: Int
        /// What is wrong.
        var message: String
    }

    /// Deeper documents are refused rather than risking the stack.
    static let maxDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    /// Where the last `,` was read, so a trailing comma is reported where it stands.
    private var lastComma = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses one JSON document (one value, surrounded by optional whitespace).
    static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var parser = StrictJSONParser(bytes)
        // A UTF-8 byte order mark is tolerated, as editors on some systems write one.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        guard parser.index < bytes.count else { throw parser.failure("$", "the file is empty") }
        let value = try parser.value(path: "$", depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw parser.failure("$", "unexpected \(parser.describeCurrent()) after the end of the document")
        }
        return value
    }

    // MARK: - Values

    private mutating func value(path: String, depth: Int) throws(Failure) -> JSONValue {
        guard depth < Self.maxDepth else { throw failure(path, "nested deeper than \(Self.maxDepth) levels") }
        guard index < bytes.count else { throw failure(path, "unexpected end of file, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(path: path, depth: depth)
        case UInt8(ascii: "["): return try array(path: path, depth: depth)
        case UInt8(ascii: "\""): return .string(try string(path: path))
        case UInt8(ascii: "t"): return try literal("true", .bool(true), path: path)
        case UInt8(ascii: "f"): return try literal("false", .bool(false), path: path)
        case UInt8(ascii: "n"): return try literal("null", .null, path: path)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number(path: path))
        default: throw failure(path, "unexpected \(describeCurrent()), expected a value")
        }
    }

    private mutating func object(path: String, depth: Int) throws(Failure) -> JSONValue {
        index += 1  // {
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            index += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw failure(path, "unexpected end of file, expected a key or \"}\"") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                if bytes[index] == UInt8(ascii: "}") { throw failure(path, "trailing comma before \"}\"", at: lastComma, refused: true) }
                throw failure(path, "unexpected \(describeCurrent()), expected a key in double quotes")
            }
            let keyStart = index
            let key = try string(path: path)
            let fieldPath = "\(path).\(key)"
            guard fields[key] == nil else {
                throw failure(fieldPath, "duplicate key \"\(key)\" (each key may appear once in an object)", at: keyStart, refused: true)
            }
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw failure(fieldPath, "unexpected \(describeCurrent()), expected \":\"") }
            index += 1
            skipWhitespace()
            fields[key] = try value(path: fieldPath, depth: depth + 1)
            skipWhitespace()
            guard index < bytes.count else { throw failure(path, "unexpected end of file, expected \",\" or \"}\"") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                lastComma = index
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(fields)
            default:
                throw failure(path, "unexpected \(describeCurrent()), expected \",\" or \"}\"")
            }
        }
    }

    private mutating func array(path: String, depth: Int) throws(Failure) -> JSONValue {
        index += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            index += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            if peek(UInt8(ascii: "]")), !items.isEmpty { throw failure(path, "trailing comma before \"]\"", at: lastComma, refused: true) }
            items.append(try value(path: "\(path)[\(items.count)]", depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw failure(path, "unexpected end of file, expected \",\" or \"]\"") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                lastComma = index
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(items)
            default:
                throw failure(path, "unexpected \(describeCurrent()), expected \",\" or \"]\"")
            }
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue, path: String) throws(Failure) -> JSONValue {
        let expected = Array(word.utf8)
        guard bytes[index...].starts(with: expected) else {
            throw failure(path, "unexpected \(describeCurrent()), expected a value (true, false and null are lower case)")
        }
        index += expected.count
        return value
    }

    private mutating func number(path: String) throws(Failure) -> Double {
        let start = index
        func digits(_ parser: inout StrictJSONParser) -> Int {
            let first = parser.index
            while parser.index < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index]) {
                parser.index += 1
            }
            return parser.index - first
        }
        if peek(UInt8(ascii: "-")) { index += 1 }
        if peek(UInt8(ascii: "0")) {
            index += 1
            if index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                throw failure(path, "numbers must not have leading zeros", at: start)
            }
        } else if digits(&self) == 0 {
            throw failure(path, "unexpected \(describeCurrent()), expected a digit")
        }
        if peek(UInt8(ascii: ".")) {
            index += 1
            guard digits(&self) > 0 else { throw failure(path, "unexpected \(describeCurrent()), expected a digit after \".\"") }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            index += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { index += 1 }
            guard digits(&self) > 0 else { throw failure(path, "unexpected \(describeCurrent()), expected a digit in the exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let number = Double(text), number.isFinite else { throw failure(path, "number \(text) is out of range", at: start) }
        return number
    }

    private mutating func string(path: String) throws(Failure) -> String {
        let start = index
        index += 1  // "
        var scalars = String.UnicodeScalarView()
        var run = index  // start of the current run of plain bytes
        func flush(_ parser: StrictJSONParser, upTo end: Int) throws(Failure) {
            guard run < end else { return }
            guard let text = String(validating: parser.bytes[run..<end], as: UTF8.self) else {
                throw parser.failure(path, "a string holds bytes that are not UTF-8", at: run)
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard index < bytes.count else { throw failure(path, "unexpected end of file inside a string", at: start) }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                try flush(self, upTo: index)
                index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush(self, upTo: index)
                scalars.append(try escape(path: path))
                run = index
            case 0..<0x20:
                throw failure(path, "a control character (such as a line break) inside a string must be escaped")
            default:
                index += 1
            }
        }
    }

    /// Reads one escape sequence (the index stands on its `\`).
    private mutating func escape(path: String) throws(Failure) -> Unicode.Scalar {
        let start = index
        index += 1
        guard index < bytes.count else { throw failure(path, "unexpected end of file inside a string", at: start) }
        let letter = bytes[index]
        index += 1
        switch letter {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try hex4(path: path, escapeStart: start)
            if (0xD800..<0xDC00).contains(high) {
                guard bytes[index...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                    throw failure(path, "a \\u escape of a high surrogate must be followed by a low one", at: start)
                }
                index += 2
                let low = try hex4(path: path, escapeStart: start)
                guard (0xDC00..<0xE000).contains(low) else {
                    throw failure(path, "a \\u escape of a high surrogate must be followed by a low one", at: start)
                }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else {
                throw failure(path, "a \\u escape names a lone surrogate", at: start)
            }
            return scalar
        default:
            throw failure(path, "unknown escape \\\(Character(Unicode.Scalar(letter))) in a string", at: start)
        }
    }

    private mutating func hex4(path: String, escapeStart: Int) throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = Self.hexValue(bytes[index]) else {
                throw failure(path, "a \\u escape needs four hexadecimal digits", at: escapeStart)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: - Support

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool {
        index < bytes.count && bytes[index] == byte
    }

    /// The character at the index, quoted, for messages (`'}'`, `end of file`).
    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of file" }
        let byte = bytes[index]
        if byte < 0x20 { return "control character 0x\(String(byte, radix: 16))" }
        if byte < 0x80 { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "a non-ASCII character"
    }

    private func failure(_ path: String, _ message: String, at offset: Int? = nil, refused: Bool = false) -> Failure {
        let (line, column) = Self.position(of: offset ?? index, in: bytes)
        return Failure(isSyntaxError: !refused, path: path, line: line, column: column, message: message)
    }

    /// 1-based line and column of the byte at `offset`; columns count characters (UTF-8
    /// continuation bytes do not start one), as editors show them.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}
