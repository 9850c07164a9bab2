import PacaCore

/// Parses one line of paca's JSON access log (`AccessLogRecord.appendJSON`). Only `url` is
/// required (`method` defaults to `GET`); unknown fields, nested values included, are skipped,
/// so logs from later versions still read.
enum JSONLogLineParser {
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> LogRequest? {
        var scanner = ByteScanner(line)
        scanner.skipSpaces()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        var request = LogRequest(method: "GET", url: "")
        var sawURL = false
        scanner.skipSpaces()
        if scanner.take(UInt8(ascii: "}")) { return nil }
        while true {
            scanner.skipSpaces()
            guard let name = string(&scanner) else { return nil }
            scanner.skipSpaces()
            guard scanner.take(UInt8(ascii: ":")) else { return nil }
            scanner.skipSpaces()
            switch name {
            case "ts":
                guard let value = nullableString(&scanner) else { return nil }
                if let text = value {
                    guard let millis = RFC3339.parse(text) else { return nil }
                    request.timestamp = millis
                }
            case "method":
                guard let value = string(&scanner) else { return nil }
                request.method = value
            case "host":
                guard let value = nullableString(&scanner) else { return nil }
                request.host = value.flatMap { $0.isEmpty ? nil : $0 }
            case "url":
                guard let value = string(&scanner) else { return nil }
                request.url = value
                sawURL = true
            case "route":
                guard let value = nullableString(&scanner) else { return nil }
                request.route = value.flatMap { $0.isEmpty ? nil : $0 }
            case "cache":
                guard let value = nullableString(&scanner) else { return nil }
                request.cache = value
            case "status":
                guard let value = nullableInteger(&scanner) else { return nil }
                request.status = value
            case "bytes":
                guard let value = nullableInteger(&scanner) else { return nil }
                request.bytes = value
            case "ttl":
                guard let value = nullableInteger(&scanner) else { return nil }
                request.ttl = value
            default:
                guard skipValue(&scanner, depth: 0) else { return nil }
            }
            scanner.skipSpaces()
            if scanner.take(UInt8(ascii: ",")) { continue }
            guard scanner.take(UInt8(ascii: "}")) else { return nil }
            scanner.skipSpaces()
            guard scanner.atEnd, sawURL, !request.method.isEmpty else { return nil }
            return request
        }
    }

    /// `.some(nil)` for `null`, `.some(text)` for a string, `nil` for anything else.
    private static func nullableString(_ scanner: inout ByteScanner) -> String?? {
        if literal("null", &scanner) { return .some(nil) }
        return string(&scanner).map { .some($0) }
    }

    private static func nullableInteger(_ scanner: inout ByteScanner) -> Int?? {
        if literal("null", &scanner) { return .some(nil) }
        guard let value = scanner.integer() else { return nil }
        // A fraction or exponent is allowed and dropped: the fields read here are counts.
        if scanner.take(UInt8(ascii: ".")) { _ = scanner.token { $0 &- 48 >= 10 } }
        if scanner.current == UInt8(ascii: "e") || scanner.current == UInt8(ascii: "E") { return nil }
        return .some(value)
    }

    private static func literal(_ word: StaticString, _ scanner: inout ByteScanner) -> Bool {
        let count = word.utf8CodeUnitCount
        guard scanner.position + count <= scanner.bytes.count else { return false }
        for offset in 0..<count where scanner.bytes[scanner.position + offset] != word.utf8Start[offset] { return false }
        scanner.position += count
        return true
    }

    /// A JSON string, escapes decoded.
    static func string(_ scanner: inout ByteScanner) -> String? {
        guard scanner.take(UInt8(ascii: "\"")) else { return nil }
        let start = scanner.position
        var escaped = false
        while let byte = scanner.current, byte != UInt8(ascii: "\"") {
            if byte == UInt8(ascii: "\\") {
                escaped = true
                scanner.position += 1
            }
            scanner.position += 1
        }
        guard scanner.current == UInt8(ascii: "\"") else { return nil }
        let raw = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.position])
        scanner.position += 1
        return escaped ? unescape(raw) : ByteScanner.string(raw)
    }

    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flush() {
            guard !utf8.isEmpty else { return }
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll(keepingCapacity: true)
        }
        var index = 0
        var pendingHigh: UInt32?
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            guard index + 1 < raw.count else { return nil }
            let kind = raw[index + 1]
            index += 2
            let simple: UInt8? =
                switch kind {
                case UInt8(ascii: "\""): UInt8(ascii: "\"")
                case UInt8(ascii: "\\"): UInt8(ascii: "\\")
                case UInt8(ascii: "/"): UInt8(ascii: "/")
                case UInt8(ascii: "n"): 0x0A
                case UInt8(ascii: "r"): 0x0D
                case UInt8(ascii: "t"): 0x09
                case UInt8(ascii: "b"): 0x08
                case UInt8(ascii: "f"): 0x0C
                default: nil
                }
            if let simple {
                utf8.append(simple)
                continue
            }
            guard kind == UInt8(ascii: "u"), index + 4 <= raw.count,
                let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[index..<(index + 4)]), as: UTF8.self), radix: 16)
            else { return nil }
            index += 4
            flush()
            if (0xD800..<0xDC00).contains(code) {
                pendingHigh = code
                continue
            }
            var value = code
            if (0xDC00..<0xE000).contains(code), let high = pendingHigh {
                value = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
            }
            pendingHigh = nil
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        flush()
        return String(scalars)
    }

    /// Skips any JSON value; `false` when it is not one.
    private static func skipValue(_ scanner: inout ByteScanner, depth: Int) -> Bool {
        guard depth < 32, let byte = scanner.current else { return false }
        switch byte {
        case UInt8(ascii: "\""):
            return string(&scanner) != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            scanner.position += 1
            scanner.skipSpaces()
            if scanner.take(close) { return true }
            while true {
                scanner.skipSpaces()
                if close == UInt8(ascii: "}") {
                    guard string(&scanner) != nil else { return false }
                    scanner.skipSpaces()
                    guard scanner.take(UInt8(ascii: ":")) else { return false }
                    scanner.skipSpaces()
                }
                guard skipValue(&scanner, depth: depth + 1) else { return false }
                scanner.skipSpaces()
                if scanner.take(UInt8(ascii: ",")) { continue }
                return scanner.take(close)
            }
        case UInt8(ascii: "t"): return literal("true", &scanner)
        case UInt8(ascii: "f"): return literal("false", &scanner)
        case UInt8(ascii: "n"): return literal("null", &scanner)
        default:
            let number = scanner.token {
                !($0 &- 48 < 10 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".")
                    || $0 | 0x20 == UInt8(ascii: "e"))
            }
            return !number.isEmpty
        }
    }
}
