import PacaCore

/// Writes access-log lines as JSON text into memory reserved for them. The caller reserves at
/// least `AccessLogRecord.maximumJSONBytes` per record (`Array(unsafeUninitializedCapacity:)`),
/// and every byte is then a plain store: no bounds, uniqueness or exclusivity check per piece, as
/// `Array.append` pays (that was two thirds of a line's cost). `reserve` checks the bound once
/// per record, so a wrong bound stops the process instead of writing past the memory.
struct JSONLineWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written so far.
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        // A zero-capacity array may hand out no memory; nothing is written then (`reserve` stops first).
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!
        capacity = buffer.count
    }

    /// Checks that `bytes` more fit; every write after it up to that many needs no check.
    @inline(__always)
    func reserve(_ bytes: Int) {
        precondition(count + bytes <= capacity, "access-log line larger than reserved")
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        guard let start = source.baseAddress, source.count > 0 else { return }
        (base + count).update(from: start, count: source.count)
        count += source.count
    }

    @inline(__always)
    mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { bytes($0) }
    }

    /// `value` as a JSON string, quoted and escaped: at most 6 bytes per byte of it, plus 2.
    mutating func string(_ value: String) {
        byte(UInt8(ascii: "\""))
        // In place when the bytes are contiguous (always, for a native string): a mutable copy
        // for `withUTF8` costs a retain and a release.
        if value.utf8.withContiguousStorageIfAvailable({ escapedContents($0) }) == nil {
            var value = value
            value.withUTF8 { escapedContents($0) }
        }
        byte(UInt8(ascii: "\""))
    }

    /// The bytes of a string, escaped where JSON needs it.
    @inline(__always)
    private mutating func escapedContents(_ source: UnsafeBufferPointer<UInt8>) {
        if Self.needsEscaping(source) {
            for unit in source { escaped(unit) }
        } else {
            // The common case (URLs, hosts, addresses): nothing to escape, one copy.
            bytes(source)
        }
    }

    /// Whether any byte of `source` is a control character, `"` or `\\`, the bytes a JSON string
    /// cannot hold as they are. Eight bytes at a time: a word's test is exact for "any byte
    /// matches" (the borrow that can mark a wrong byte only ever follows a matching one).
    static func needsEscaping(_ source: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let start = source.baseAddress else { return false }
        let raw = UnsafeRawPointer(start)
        let count = source.count
        var index = 0
        while index + 8 <= count {
            if needsEscaping(word: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            index += 8
        }
        while index < count {
            let unit = start[index]
            if unit < 0x20 || unit == UInt8(ascii: "\"") || unit == UInt8(ascii: "\\") { return true }
            index += 1
        }
        return false
    }

    /// Whether a byte of `word` is below 0x20, `"` (0x22) or `\\` (0x5C). A byte of 0x80 or
    /// more (UTF-8 beyond ASCII) never matches: `~word` clears its high bit.
    @inline(__always)
    static func needsEscaping(word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = word &- ones &* 0x20
        let zeroQuote = quote &- ones
        let zeroBackslash = backslash &- ones
        return ((control & ~word) | (zeroQuote & ~quote) | (zeroBackslash & ~backslash)) & highs != 0
    }

    private mutating func escaped(_ value: UInt8) {
        switch value {
        case UInt8(ascii: "\""): literal(#"\""#)
        case UInt8(ascii: "\\"): literal(#"\\"#)
        case UInt8(ascii: "\n"): literal(#"\n"#)
        case UInt8(ascii: "\r"): literal(#"\r"#)
        case UInt8(ascii: "\t"): literal(#"\t"#)
        case 0..<0x20:
            literal(#"\u00"#)
            byte(Self.hexDigit(value >> 4))
            byte(Self.hexDigit(value & 0xF))
        default: byte(value)
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// 16 lower-case hex digits, leading zeros kept: two words of eight digits each, made with
    /// a few word operations instead of sixteen nibble lookups.
    mutating func hex16(_ value: UInt64) {
        let high = Self.hexDigits(UInt32(truncatingIfNeeded: value >> 32))
        let low = Self.hexDigits(UInt32(truncatingIfNeeded: value))
        let target = UnsafeMutableRawPointer(base + count)
        target.storeBytes(of: high, as: UInt64.self)
        (target + 8).storeBytes(of: low, as: UInt64.self)
        count += 16
    }

    /// The eight hex digits of `value` as the bytes of a word, in memory order (most significant
    /// digit first).
    @inline(__always)
    static func hexDigits(_ value: UInt32) -> UInt64 {
        // Spread the eight nibbles to one per byte, least significant nibble in the lowest byte.
        var x = UInt64(value)
        x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF
        x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF
        x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F
        // "0"… for 0–9; for 10–15 ("a" − "0" − 10 = 0x27 more). A byte holds at most 15: no carry.
        let letters = ((x &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        let digits = x &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        // The most significant digit goes first: stored big-endian, the highest byte at the lowest address.
        return digits.bigEndian
    }

    /// An integer in decimal: at most 20 bytes.
    mutating func integer(_ value: Int) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        digits(UInt64(value.magnitude))
    }

    /// A number with exactly three decimals, rounded (`12.3456` → `12.346`); `null` for a value
    /// that is not finite, and the largest magnitude `Int64` holds in thousandths for one beyond
    /// it. At most 25 bytes.
    mutating func fixed3(_ value: Double) {
        let scaled = (value * 1000).rounded()
        guard scaled.isFinite else { return literal("null") }
        // 9.2e18 is below Int64.max and exactly representable: the conversion cannot trap.
        let thousandths = Int64(max(-9.2e18, min(9.2e18, scaled)))
        if thousandths < 0 { byte(UInt8(ascii: "-")) }
        let magnitude = thousandths.magnitude
        digits(magnitude / 1000)
        byte(UInt8(ascii: "."))
        let fraction = magnitude % 1000
        byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: fraction / 100))
        byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: fraction / 10 % 10))
        byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: fraction % 10))
    }

    private mutating func digits(_ magnitude: UInt64) {
        count += DecimalDigits.write(magnitude, to: base + count)
    }

    /// `YYYY-MM-DDTHH:MM:SS.` for the last second formatted; the milliseconds are written per
    /// record. Records of one flush are seconds apart at most, so it is formatted about once per
    /// second of traffic. Its bytes are at most `maximumBytes`.
    struct TimestampCache {
        private var second: Int64 = .min
        private var prefix: [UInt8] = []
        /// A timestamp's bytes at most (a year of up to 11 digits with its sign).
        static let maximumBytes = 40

        mutating func write(_ millis: UnixMillis, to out: inout JSONLineWriter) {
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
            if seconds != second {
                second = seconds
                // "…SS.mmmZ" from the full formatter, less its "mmmZ".
                prefix = Array(RFC3339.format(millis: seconds * 1000).utf8.dropLast(4).prefix(Self.maximumBytes - 4))
            }
            prefix.withUnsafeBufferPointer { out.bytes($0) }
            let ms = Int(millis - seconds * 1000)
            out.byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms / 100))
            out.byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms / 10 % 10))
            out.byte(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms % 10))
            out.byte(UInt8(ascii: "Z"))
        }
    }
}
