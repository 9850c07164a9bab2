/// A cursor over one line's bytes, for the hand-written parsers: no Foundation, no copy of the
/// line, one pass.
struct ByteScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { position >= bytes.count }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipSpaces() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
    }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        position += 1
        return true
    }

    /// The bytes up to (not including) the next byte in `stops`, or to the end.
    mutating func token(until stop: (UInt8) -> Bool) -> UnsafeBufferPointer<UInt8> {
        let start = position
        while position < bytes.count, !stop(bytes[position]) { position += 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<position])
    }

    /// A run of decimal digits, with an optional leading `-`; `nil` when there is none or it
    /// overflows.
    mutating func integer() -> Int? {
        var negative = false
        let start = position
        if current == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var value = 0
        var digits = 0
        while position < bytes.count, bytes[position] &- 48 < 10 {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(bytes[position] &- 48))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else {
            position = start
            return nil
        }
        return negative ? -value : value
    }

    static func integer(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        var scanner = ByteScanner(text)
        guard let value = scanner.integer(), scanner.atEnd else { return nil }
        return value
    }

    static func string(_ text: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: text, as: UTF8.self)
    }
}
