/// Writes unsigned integers in decimal straight into memory, two digits per division (from a
/// table of the pairs 00–99): the access log's lines and the response heads write several
/// numbers per request, and one division per digit was most of their cost.
public enum DecimalDigits {
    /// How many digits `value` has in decimal (1 for 0).
    @inlinable
    public static func count(_ value: UInt64) -> Int {
        var length = 1
        var probe = value
        while probe >= 100 {
            probe /= 100
            length += 2
        }
        return probe >= 10 ? length + 1 : length
    }

    /// Writes `value` in decimal at `target`, which has room for `count(value)` bytes (at most
    /// 20); returns the bytes written.
    @inlinable
    public static func write(_ value: UInt64, to target: UnsafeMutablePointer<UInt8>) -> Int {
        // A static string's bytes: no lazy global to check on each call, as an array's needs.
        let pairs = pairs.utf8Start
        // Up to four digits (statuses, most lengths, ages, TTLs and milliseconds) without the
        // count's loop: at most one division, by a constant.
        if value < 100 {
            if value < 10 {
                target[0] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value)
                return 1
            }
            let pair = Int(value) &* 2
            target[0] = pairs[pair]
            target[1] = pairs[pair + 1]
            return 2
        }
        if value < 10_000 {
            let high = Int(value / 100)
            let low = Int(value % 100) &* 2
            var index = 0
            if high >= 10 {
                target[0] = pairs[high &* 2]
                index = 1
            }
            target[index] = pairs[high &* 2 &+ 1]
            target[index + 1] = pairs[low]
            target[index + 2] = pairs[low + 1]
            return index + 3
        }
        let length = count(value)
        var rest = value
        var index = length
        while rest >= 100 {
            let pair = Int(rest % 100) &* 2
            rest /= 100
            index -= 2
            target[index] = pairs[pair]
            target[index + 1] = pairs[pair + 1]
        }
        if rest >= 10 {
            let pair = Int(rest) &* 2
            target[0] = pairs[pair]
            target[1] = pairs[pair + 1]
        } else {
            target[0] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
        }
        return length
    }

    /// "00", "01", … "99", two bytes each.
    @usableFromInline
    static var pairs: StaticString {
        """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """
    }
}
