/// HTTP-date parsing and formatting (RFC 9110 §5.6.7), in Unix seconds, without Foundation.
///
/// `parse` accepts the three formats a recipient must accept: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// and ANSI C asctime (`Sun Nov  6 08:49:37 1994`). It follows the grammar's shape — single
/// spaces between the parts (asctime pads a one-digit day with a second one), the zone spelled
/// `GMT`, a full weekday and a two-digit year in RFC 850 — and is lenient only about the case of
/// names and surrounding whitespace (the weekday is not cross-checked). Anything else is `nil`:
/// bad ranges, trailing garbage, `0`, `-1`, `UTC`, doubled spaces, a dashed date with a
/// four-digit year. Callers decide what an invalid date means: RFC 9111 §5.3 makes an invalid
/// `Expires` "already expired", so reading a malformed date as valid would make it fresh.
public enum HTTPDate: Sendable {
    /// Earliest formattable instant, 0001-01-01T00:00:00Z.
    static let minSeconds: Int64 = -62_135_596_800
    /// Latest formattable instant, 9999-12-31T23:59:59Z.
    static let maxSeconds: Int64 = 253_402_300_799

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    private static let longDayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    private static let formatMonths = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let formatDays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // day 0 = 1970-01-01, a Thursday

    /// Parses an HTTP-date into Unix seconds, or `nil` if `s` is not one of the three formats.
    /// A two-digit RFC 850 year `YY` reads as 19YY when YY ≥ 70, else 20YY; use
    /// `parse(_:relativeTo:)` for the exact rule of RFC 9110 §5.6.7.
    public static func parse(_ s: String) -> Int64? {
        parse(s, nowSeconds: nil)
    }

    /// Parses an HTTP-date like `parse(_:)`, but reads a two-digit RFC 850 year as RFC 9110 §5.6.7
    /// requires: a year that would lie more than 50 years after `nowSeconds` is taken as the most
    /// recent past year with the same last two digits.
    public static func parse(_ s: String, relativeTo nowSeconds: Int64) -> Int64? {
        parse(s, nowSeconds: nowSeconds)
    }

    private static func parse(_ s: String, nowSeconds: Int64?) -> Int64? {
        if let seconds = parseIMFFixdate(s) { return seconds }
        return parseGeneral(s, nowSeconds: nowSeconds)
    }

    /// The form every current server sends, `Sun, 06 Nov 1994 08:49:37 GMT` (29 bytes, nothing
    /// around it), read in place: the same value as `parseGeneral`, without its lowercased copy,
    /// its split into strings and their arrays (a response's `Date`, `Last-Modified` and `Expires`,
    /// and a conditional request's `If-Modified-Since`, were read that way on every miss and
    /// revalidation). `nil` for anything else, valid or not: `parseGeneral` decides then.
    static func parseIMFFixdate(_ s: String) -> Int64? {
        // A native string's bytes in place; anything else is left to the general parser.
        s.utf8.withContiguousStorageIfAvailable { b -> Int64? in
            guard b.count == 29, b[3] == UInt8(ascii: ","), b[4] == space, b[7] == space, b[11] == space, b[16] == space,
                b[19] == colon, b[22] == colon, b[25] == space,
                lower(b[26]) == UInt8(ascii: "g"), lower(b[27]) == UInt8(ascii: "m"), lower(b[28]) == UInt8(ascii: "t")
            else { return nil }
            let day3 = threeLetters(b, at: 0)
            guard Self.dayCodes.contains(day3), let month = Self.monthCodes.firstIndex(of: threeLetters(b, at: 8)) else { return nil }
            guard let d = digits(b, at: 5, count: 2), let y = digits(b, at: 12, count: 4), let h = digits(b, at: 17, count: 2),
                let m = digits(b, at: 20, count: 2), let sec = digits(b, at: 23, count: 2), h < 24, m < 60, sec <= 60
            else { return nil }
            return make(year: y, month: Int64(month + 1), day: d, time: h * 3600 + m * 60 + min(sec, 59))
        } ?? nil
    }

    private static let space = UInt8(ascii: " ")
    private static let colon = UInt8(ascii: ":")

    /// `byte` with an ASCII capital letter made small (other bytes as they are but bit 5 set,
    /// which no letter comparison here can take for a letter).
    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 { byte | 0x20 }

    /// Three bytes at `start`, lowered, packed into one number to compare with the name codes.
    @inline(__always)
    private static func threeLetters(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32 {
        UInt32(lower(b[start])) << 16 | UInt32(lower(b[start + 1])) << 8 | UInt32(lower(b[start + 2]))
    }

    private static func code(_ name: String) -> UInt32 {
        let u = Array(name.utf8)
        return UInt32(u[0]) << 16 | UInt32(u[1]) << 8 | UInt32(u[2])
    }

    private static let dayCodes = dayNames.map(code)
    private static let monthCodes = monthNames.map(code)

    /// The decimal number of `count` digits at `start`, or `nil` if one is not a digit.
    @inline(__always)
    private static func digits(_ b: UnsafeBufferPointer<UInt8>, at start: Int, count: Int) -> Int64? {
        var value: Int64 = 0
        for index in start..<(start + count) {
            let digit = b[index] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// Every form `parse` accepts, read the general way.
    static func parseGeneral(_ s: String, nowSeconds: Int64?) -> Int64? {
        let text = ASCII.lowercased(ASCII.trimmed(s))
        // Split on every single space, so a doubled space leaves an empty part and fails the
        // per-format checks; only asctime's padded day (`Nov  6`) is allowed one.
        let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let firstPart = parts.first else { return nil }
        if firstPart.hasSuffix(",") {
            let day = String(firstPart.dropLast())
            if parts.count == 6, dayNames.contains(day) {
                // IMF-fixdate: day, DD Mon YYYY HH:MM:SS GMT
                guard isGMT(parts[5]), let d = number(parts[1], digits: 1...2), let m = month(parts[2]),
                    let y = number(parts[3], digits: 4...4), let t = time(parts[4])
                else { return nil }
                return make(year: y, month: m, day: d, time: t)
            }
            if parts.count == 4, longDayNames.contains(day) {
                // RFC 850: Weekday, DD-Mon-YY HH:MM:SS GMT
                let dm = parts[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard dm.count == 3, isGMT(parts[3]), let d = number(dm[0], digits: 2...2), let m = month(dm[1]),
                    let y2 = number(dm[2], digits: 2...2), let t = time(parts[2])
                else { return nil }
                return make(year: twoDigitYear(y2, nowSeconds: nowSeconds), month: m, day: d, time: t)
            }
            return nil
        }
        // asctime: Sun Nov  6 08:49:37 1994 (a one-digit day is padded with a space)
        var fields = parts
        if fields.count == 6, fields[2].isEmpty, fields[3].utf8.count == 1 { fields.remove(at: 2) }
        guard fields.count == 5, dayNames.contains(firstPart), let m = month(fields[1]),
            let d = number(fields[2], digits: 1...2), let t = time(fields[3]),
            let y = number(fields[4], digits: 4...4)
        else { return nil }
        return make(year: y, month: m, day: d, time: t)
    }

    /// Formats Unix seconds as IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. Values outside
    /// years 0001–9999 are clamped to that range so the result is always a valid HTTP-date.
    public static func format(unixSeconds: Int64) -> String {
        let t = min(max(unixSeconds, minSeconds), maxSeconds)
        let days = floorDiv(t, 86_400)
        let secs = t - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        let weekday = formatDays[Int(((days % 7) + 7) % 7)]
        return "\(weekday), \(pad(d, 2)) \(formatMonths[Int(m - 1)]) \(pad(y, 4)) "
            + "\(pad(secs / 3600, 2)):\(pad((secs / 60) % 60, 2)):\(pad(secs % 60, 2)) GMT"
    }

    // MARK: - pieces

    private static func twoDigitYear(_ yy: Int64, nowSeconds: Int64?) -> Int64 {
        guard let nowSeconds else { return yy < 70 ? 2000 + yy : 1900 + yy }
        let clamped = min(max(nowSeconds, minSeconds), maxSeconds)
        let nowYear = civil(fromDays: floorDiv(clamped, 86_400)).0
        var year = (nowYear / 100) * 100 + yy
        if year > nowYear + 50 { year -= 100 } else if year + 100 <= nowYear + 50 { year += 100 }
        return min(max(year, 1), 9999)
    }

    private static func isGMT(_ s: String) -> Bool { s == "gmt" }

    private static func month(_ s: String) -> Int64? {
        guard let i = monthNames.firstIndex(of: s) else { return nil }
        return Int64(i + 1)
    }

    private static func number(_ s: String, digits: ClosedRange<Int>) -> Int64? {
        guard digits.contains(s.utf8.count) else { return nil }
        var v: Int64 = 0
        for b in s.utf8 {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            v = v * 10 + Int64(b - 0x30)
        }
        return v
    }

    private static func time(_ s: String) -> Int64? {
        let hms = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard hms.count == 3, let h = number(hms[0], digits: 2...2), let m = number(hms[1], digits: 2...2),
            let sec = number(hms[2], digits: 2...2), h < 24, m < 60, sec <= 60
        else { return nil }
        return h * 3600 + m * 60 + min(sec, 59)  // a leap second reads as :59
    }

    private static func make(year: Int64, month: Int64, day: Int64, time: Int64) -> Int64? {
        guard year >= 1, year <= 9999, day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        return days(fromCivil: year, month, day) * 86_400 + time
    }

    private static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
