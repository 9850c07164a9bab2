import PacaCore

/// Parses nginx/Apache `combined` lines,
/// `addr ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "referer" "agent"`,
/// and nginx's `main` with `$request_time` appended (`… "agent" "x-forwarded-for" 0.012`).
/// A `-` byte count reads as 0.
enum CombinedLogLineParser {
    /// What followed the user agent.
    enum Tail {
        /// Nothing: `combined`.
        case none
        /// A quoted field and a number: `main` with `$request_time`.
        case forwardedForAndRequestTime
        /// Anything else (custom additions, still readable).
        case other
    }

    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> (request: LogRequest, tail: Tail)? {
        var scanner = ByteScanner(line)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        scanner.skipSpaces()
        // addr, ident, user
        for _ in 0..<3 {
            guard !scanner.token(until: isSpace).isEmpty else { return nil }
            scanner.skipSpaces()
        }
        guard scanner.take(UInt8(ascii: "[")) else { return nil }
        let time = scanner.token { $0 == UInt8(ascii: "]") }
        guard scanner.take(UInt8(ascii: "]")), let timestamp = parseTime(time) else { return nil }
        scanner.skipSpaces()
        guard let requestLine = quoted(&scanner) else { return nil }
        var requestScanner = ByteScanner(requestLine)
        let method = requestScanner.token(until: isSpace)
        requestScanner.skipSpaces()
        let target = requestScanner.token(until: isSpace)
        guard !method.isEmpty, !target.isEmpty, method.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
        else { return nil }
        scanner.skipSpaces()
        guard let status = ByteScanner.integer(scanner.token(until: isSpace)), (100...999).contains(status) else {
            return nil
        }
        scanner.skipSpaces()
        let bytesField = scanner.token(until: isSpace)
        let bytes: Int
        if bytesField.count == 1, bytesField[0] == UInt8(ascii: "-") {
            bytes = 0
        } else {
            guard let value = ByteScanner.integer(bytesField), value >= 0 else { return nil }
            bytes = value
        }
        scanner.skipSpaces()
        guard quoted(&scanner) != nil else { return nil }
        scanner.skipSpaces()
        guard quoted(&scanner) != nil else { return nil }
        scanner.skipSpaces()
        var tail = Tail.none
        if !scanner.atEnd {
            tail = .other
            if quoted(&scanner) != nil {
                scanner.skipSpaces()
                let number = scanner.token(until: isSpace)
                scanner.skipSpaces()
                if scanner.atEnd, !number.isEmpty,
                    number.allSatisfy({ $0 &- 48 < 10 || $0 == UInt8(ascii: ".") })
                {
                    tail = .forwardedForAndRequestTime
                }
            }
        }
        let request = LogRequest(
            timestamp: timestamp, method: ByteScanner.string(method), url: ByteScanner.string(target), status: status,
            bytes: bytes)
        return (request, tail)
    }

    /// A `"…"` field; `\"` inside is kept as is (nginx escapes quotes as `\x22`).
    private static func quoted(_ scanner: inout ByteScanner) -> UnsafeBufferPointer<UInt8>? {
        guard scanner.take(UInt8(ascii: "\"")) else { return nil }
        let start = scanner.position
        while let byte = scanner.current, byte != UInt8(ascii: "\"") {
            scanner.position += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        guard scanner.position < scanner.bytes.count else { return nil }
        let field = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.position])
        scanner.position += 1
        return field
    }

    private static let months: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { Array($0.utf8) }

    /// `10/Oct/2000:13:55:36 -0700` to Unix milliseconds.
    static func parseTime(_ text: UnsafeBufferPointer<UInt8>) -> UnixMillis? {
        guard text.count == 26 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            ByteScanner.integer(UnsafeBufferPointer(rebasing: text[start..<(start + count)]))
        }
        let monthBytes = Array(text[3..<6])
        guard let day = number(0, 2), let monthIndex = months.firstIndex(of: monthBytes), let year = number(7, 4),
            let hour = number(12, 2), let minute = number(15, 2), let second = number(18, 2),
            text[21] == UInt8(ascii: "+") || text[21] == UInt8(ascii: "-"), let offsetHours = number(22, 2),
            let offsetMinutes = number(24, 2), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let sign = text[21] == UInt8(ascii: "-") ? -1 : 1
        let days = RFC3339.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        let seconds =
            Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            - Int64(sign * (offsetHours * 3600 + offsetMinutes * 60))
        return seconds * 1000
    }
}
