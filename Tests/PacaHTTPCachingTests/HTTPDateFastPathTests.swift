import Testing

@testable import PacaHTTPCaching

@Suite("HTTPDate's IMF-fixdate fast path reads what the general parser reads")
struct HTTPDateFastPathTests {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `parse` (fast path first) and the general parser alone agree on `text`.
    static func agree(_ text: String) -> Bool {
        HTTPDate.parse(text) == HTTPDate.parseGeneral(text, nowSeconds: nil)
    }

    @Test("every day, month, edge day of month, year and time, in three cases")
    func canonicalDates() {
        var checked = 0
        var fast = 0
        for day in Self.days {
            for (index, month) in Self.months.enumerated() {
                for dayOfMonth in ["00", "01", "09", "10", "28", "29", "30", "31", "32", "99"] {
                    for year in ["0000", "0001", "1900", "1970", "1994", "2000", "2024", "2100", "9999"] {
                        for time in ["00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00", "08:49:61"]
                        where index % 3 == 0 || time == "00:00:00" {
                            let text = "\(day), \(dayOfMonth) \(month) \(year) \(time) GMT"
                            for variant in [text, text.lowercased(), text.uppercased()] {
                                #expect(Self.agree(variant), "\(variant)")
                                if HTTPDate.parseIMFFixdate(variant) != nil { fast += 1 }
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(checked > 10_000)
        // The valid ones were read by the fast path, not only by the general one.
        #expect(fast > checked / 3)
        #expect(HTTPDate.parseIMFFixdate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
    }

    @Test("every byte value in every place of a fixdate gives what the general parser gives")
    func everyByteEverywhere() {
        let base = Array("Sun, 06 Nov 1994 08:49:37 GMT".utf8)
        var checked = 0
        for place in base.indices {
            for value in UInt8(0)...UInt8(127) {
                var bytes = base
                bytes[place] = value
                let text = String(decoding: bytes, as: UTF8.self)
                #expect(Self.agree(text), "\(text.debugDescription)")
                checked += 1
            }
            // A character beyond ASCII in that place (two bytes: 30 in all).
            let text = String(decoding: base[..<place], as: UTF8.self) + "\u{E9}" + String(decoding: base[(place + 1)...], as: UTF8.self)
            #expect(Self.agree(text), "\(text.debugDescription)")
        }
        #expect(checked == 29 * 128)
        // Other lengths and the other two formats go the general way.
        for text in [
            " Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC", "",
        ] {
            #expect(Self.agree(text), "\(text.debugDescription)")
        }
    }
}
