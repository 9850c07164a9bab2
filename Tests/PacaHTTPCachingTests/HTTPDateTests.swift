import PacaHTTPCaching
import Testing

struct DateCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let text: String
    /// Expected Unix seconds, or nil when invalid.
    let seconds: Int64?
    var testDescription: String { "RFC \(rfc): \(text.debugDescription)" }
}

let dateCases: [DateCase] = [
    DateCase(rfc: "9110 §5.6.7", text: "Sun, 06 Nov 1994 08:49:37 GMT", seconds: 784_111_777),
    DateCase(rfc: "9110 §5.6.7", text: "Sunday, 06-Nov-94 08:49:37 GMT", seconds: 784_111_777),
    DateCase(rfc: "9110 §5.6.7", text: "Sun Nov  6 08:49:37 1994", seconds: 784_111_777),
    DateCase(rfc: "9110 §5.6.7", text: "  Sun, 06 Nov 1994 08:49:37 GMT  ", seconds: 784_111_777),
    DateCase(rfc: "9110 §5.6.7", text: "sun, 06 nov 1994 08:49:37 gmt", seconds: 784_111_777),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 01 Jan 1970 00:00:00 GMT", seconds: 0),
    DateCase(rfc: "9110 §5.6.7", text: "Wed, 31 Dec 1969 23:59:59 GMT", seconds: -1),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 29 Feb 2024 12:00:00 GMT", seconds: 1_709_208_000),
    DateCase(rfc: "9110 §5.6.7", text: "Fri, 29 Feb 2023 12:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 24:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 00:60:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 32 Jan 2024 00:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Foo 2024 00:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 00:00:00 PST", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 00:00:00 GMT trailing", seconds: nil),
    DateCase(rfc: "9111 §5.3", text: "0", seconds: nil),
    DateCase(rfc: "9111 §5.3", text: "-1", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Monday, 01-Jan-24 00:00:00 GMT", seconds: 1_704_067_200),
    DateCase(rfc: "9110 §5.6.7", text: "Thursday, 01-Jan-70 00:00:00 GMT", seconds: 0),
    DateCase(rfc: "9110 §5.6.7", text: "Mon Jan  1 00:00:00 2024", seconds: 1_704_067_200),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 00:00:60 GMT", seconds: 1_704_067_259),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 99999 00:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon, 01 Jan 2024 0:00:00 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18 Aug 2050 02:01:18 UTC", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18  Aug  2050 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu,  18 Aug 2050 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18-Aug-2050 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thursday, 18-Aug-2050 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18-Aug-50 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18 Aug 50 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu 18 Aug 2050 02:01:18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Thu, 18 Aug 2050 02.01.18 GMT", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon Jan   1 00:00:00 2024", seconds: nil),
    DateCase(rfc: "9110 §5.6.7", text: "Mon Jan 11 00:00:00 2024", seconds: 1_704_931_200),
    DateCase(rfc: "9110 §5.6.7", text: "THU, 18 AUG 2050 02:01:18 GMT", seconds: 2_544_400_878),
]

@Test("HTTP-date parsing", arguments: dateCases)
func httpDateParsing(_ c: DateCase) {
    #expect(HTTPDate.parse(c.text) == c.seconds, "RFC \(c.rfc)")
}

struct FormatCase: CustomTestStringConvertible, Sendable {
    let rfc = "9110 §5.6.7"
    let seconds: Int64
    let text: String
    var testDescription: String { "RFC \(rfc): \(seconds)" }
}

let formatCases: [FormatCase] = [
    FormatCase(seconds: 784_111_777, text: "Sun, 06 Nov 1994 08:49:37 GMT"),
    FormatCase(seconds: 0, text: "Thu, 01 Jan 1970 00:00:00 GMT"),
    FormatCase(seconds: -1, text: "Wed, 31 Dec 1969 23:59:59 GMT"),
    FormatCase(seconds: 1_709_208_000, text: "Thu, 29 Feb 2024 12:00:00 GMT"),
    FormatCase(seconds: .max, text: "Fri, 31 Dec 9999 23:59:59 GMT"),
    FormatCase(seconds: .min, text: "Mon, 01 Jan 0001 00:00:00 GMT"),
]

@Test("HTTP-date formatting (IMF-fixdate)", arguments: formatCases)
func httpDateFormatting(_ c: FormatCase) {
    #expect(HTTPDate.format(unixSeconds: c.seconds) == c.text, "RFC \(c.rfc)")
    #expect(HTTPDate.parse(c.text) != nil)
}

@Test("HTTP-date round trip over many instants (RFC 9110 §5.6.7)")
func httpDateRoundTrip() {
    var t: Int64 = -2_000_000_000
    while t < 4_000_000_000 {
        #expect(HTTPDate.parse(HTTPDate.format(unixSeconds: t)) == t)
        t += 7_777_777
    }
}
