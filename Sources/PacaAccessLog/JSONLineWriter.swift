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
        guard let start = source.baseAddress else { return }
        copy(from: UnsafeRawPointer(start), count: source.count)
    }

    @inline(__always)
    mutating func literal(_ text: StaticString) {
        copy(from: UnsafeRawPointer(text.utf8Start), count: text.utf8CodeUnitCount)
    }

    /// Copies `length` bytes this writer wrote earlier, from `offset`, to the end.
    @inline(__always)
    mutating func copyWritten(at offset: Int, count length: Int) {
        copy(from: UnsafeRawPointer(base + offset), count: length)
    }

    /// Copies `length` bytes from `source`. Up to 32 bytes (every literal of a line, and most of
    /// its strings) as at most four overlapping word moves, inline: a line is some twenty short
    /// pieces, and a call to `memcpy` for each was a fifth of the line's cost. Every load and
    /// store stays inside the `length` bytes.
    @inline(__always)
    private mutating func copy(from source: UnsafeRawPointer, count length: Int) {
        let target = UnsafeMutableRawPointer(base + count)
        if length > 32 {
            target.copyMemory(from: source, byteCount: length)
        } else {
            let words = Self.load(source, count: length)
            Self.store(words, to: target, count: length)
        }
        count += length
    }

    /// The bytes of a run of at most 32 as four words, for `store` to write back: for 16 bytes
    /// or fewer the first and last 8 (or 4, or the first, middle and last byte), for more the
    /// first and last 16. The words overlap where the run is shorter than they are; they cover
    /// it exactly, and hold only its bytes (a byte of a short run may appear twice).
    @inline(__always)
    private static func load(_ source: UnsafeRawPointer, count length: Int) -> (UInt64, UInt64, UInt64, UInt64) {
        if length >= 16 {
            return (
                source.loadUnaligned(as: UInt64.self), source.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                source.loadUnaligned(fromByteOffset: length - 16, as: UInt64.self),
                source.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self)
            )
        }
        if length >= 8 {
            let first = source.loadUnaligned(as: UInt64.self)
            let last = source.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self)
            return (first, last, first, last)
        }
        if length >= 4 {
            let first = UInt64(source.loadUnaligned(as: UInt32.self))
            let last = UInt64(source.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self))
            let word = first | last << 32
            return (word, word, word, word)
        }
        guard length > 0 else { return (spaces, spaces, spaces, spaces) }
        // First, middle and last byte (for 1–3 bytes, together every byte), padded with spaces:
        // a space is nothing `needsEscaping` looks for.
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        let word = UInt64(bytes[0]) | UInt64(bytes[length >> 1]) << 8 | UInt64(bytes[length - 1]) << 16 | spaces << 24
        return (word, word, word, word)
    }

    private static let spaces: UInt64 = 0x2020_2020_2020_2020

    /// Writes back the words `load` read from a run of `length` bytes, to the same offsets.
    @inline(__always)
    private static func store(_ words: (UInt64, UInt64, UInt64, UInt64), to target: UnsafeMutableRawPointer, count length: Int) {
        if length >= 16 {
            target.storeBytes(of: words.0, as: UInt64.self)
            target.storeBytes(of: words.1, toByteOffset: 8, as: UInt64.self)
            target.storeBytes(of: words.2, toByteOffset: length - 16, as: UInt64.self)
            target.storeBytes(of: words.3, toByteOffset: length - 8, as: UInt64.self)
        } else if length >= 8 {
            target.storeBytes(of: words.0, as: UInt64.self)
            target.storeBytes(of: words.1, toByteOffset: length - 8, as: UInt64.self)
        } else if length >= 4 {
            target.storeBytes(of: UInt32(truncatingIfNeeded: words.0), as: UInt32.self)
            target.storeBytes(of: UInt32(truncatingIfNeeded: words.0 >> 32), toByteOffset: length - 4, as: UInt32.self)
        } else if length > 0 {
            let target = target.assumingMemoryBound(to: UInt8.self)
            target[0] = UInt8(truncatingIfNeeded: words.0)
            target[length >> 1] = UInt8(truncatingIfNeeded: words.0 >> 8)
            target[length - 1] = UInt8(truncatingIfNeeded: words.0 >> 16)
        }
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
        guard let start = source.baseAddress else { return }
        let length = source.count
        let clean: Bool
        if length > 32 {
            clean = !Self.needsEscaping(source)
            if clean { bytes(source) }
        } else {
            // The common case (methods, hosts, routes, addresses, short URLs): the words that
            // copy the bytes are the words tested, so the test costs a few operations per word.
            // Up to 8 bytes the first word holds them all, up to 16 the first two.
            let words = Self.load(UnsafeRawPointer(start), count: length)
            var marks = Self.escapeMarks(words.0)
            if length > 8 { marks |= Self.escapeMarks(words.1) }
            if length > 16 { marks |= Self.escapeMarks(words.2) | Self.escapeMarks(words.3) }
            clean = marks == 0
            if clean {
                Self.store(words, to: UnsafeMutableRawPointer(base + count), count: length)
                count += length
            }
        }
        if !clean {
            for unit in source { escaped(unit) }
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
        escapeMarks(word) != 0
    }

    /// Nonzero when a byte of `word` needs escaping (`needsEscaping(word:)`), so the marks of
    /// several words can be or-ed and tested once.
    @inline(__always)
    static func escapeMarks(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = word &- ones &* 0x20
        let zeroQuote = quote &- ones
        let zeroBackslash = backslash &- ones
        return ((control & ~word) | (zeroQuote & ~quote) | (zeroBackslash & ~backslash)) & highs
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

    /// A number with exactly three decimals, rounded half away from zero (`12.3456` → `12.346`,
    /// as `rounded()` rounds); `null` for a value that is not finite, and the largest magnitude
    /// `Int64` holds in thousandths for one beyond it. At most 25 bytes.
    mutating func fixed3(_ value: Double) {
        let scaled = value * 1000
        guard scaled.isFinite else { return literal("null") }
        // 9.2e18 is below Int64.max and exactly representable: the conversion cannot trap.
        let clamped = max(-9.2e18, min(9.2e18, scaled))
        // Truncated, then rounded by the part cut off, which the subtraction gives exactly (a
        // double beyond 2^52 has none): no call to the C library's `round`.
        var thousandths = Int64(clamped)
        let cut = clamped - Double(thousandths)
        if cut >= 0.5 { thousandths += 1 } else if cut <= -0.5 { thousandths -= 1 }
        self.thousandths(thousandths)
    }

    /// `value` thousandths as a number with three decimals (`1234` → `1.234`).
    @inline(__always)
    mutating func thousandths(_ value: Int64) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
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

    /// The timestamp of the last millisecond written, as it is written: a record's timestamp is
    /// a copy of it when the millisecond is the same (under load, dozens of records a
    /// millisecond), its three digits patched when only the millisecond changed, and formatted
    /// whole about once per second of traffic. Its bytes are at most `maximumBytes`.
    struct TimestampCache {
        private var second: Int64 = .min
        private var millisecond: Int64 = .min
        /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, in place (no array to reach through).
        private var text: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        private var length = 0
        /// A timestamp's bytes at most (a year of up to 11 digits with its sign).
        static let maximumBytes = 40

        @inline(__always)
        mutating func write(_ millis: UnixMillis, to out: inout JSONLineWriter) {
            if millis != millisecond { update(millis) }
            let length = self.length
            withUnsafeBytes(of: &text) { out.bytes(UnsafeBufferPointer(rebasing: $0.bindMemory(to: UInt8.self)[..<length])) }
        }

        private mutating func update(_ millis: UnixMillis) {
            millisecond = millis
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
            if seconds != second {
                second = seconds
                // "…SS." from the full formatter, less its "mmmZ".
                let prefix = RFC3339.format(millis: seconds * 1000).utf8.dropLast(4).prefix(Self.maximumBytes - 4)
                length = prefix.count + 4
                withUnsafeMutableBytes(of: &text) { text in
                    var index = 0
                    for byte in prefix {
                        text[index] = byte
                        index += 1
                    }
                    text[index + 3] = UInt8(ascii: "Z")
                }
            }
            let ms = Int(millis - seconds * 1000)
            let at = length - 4
            withUnsafeMutableBytes(of: &text) { text in
                text[at] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms / 100)
                text[at + 1] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms / 10 % 10)
                text[at + 2] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: ms % 10)
            }
        }
    }
}
