import PacaHTTPCaching
import Testing

struct RangeCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let range: String?
    var ifRange: String? = nil
    var length = 1000
    let expected: RangeResult
    var testDescription: String { "RFC \(rfc): \(range ?? "nil") If-Range \(ifRange ?? "-")" }
}

let rangeCases: [RangeCase] = [
    RangeCase(rfc: "9110 §14.2", range: nil, expected: .full),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=0-499", expected: .satisfiable([0...499])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=500-", expected: .satisfiable([500...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=-200", expected: .satisfiable([800...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=-5000", expected: .satisfiable([0...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=900-5000", expected: .satisfiable([900...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=0-0,-1", expected: .satisfiable([0...0, 999...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "Bytes= 0-9 , 20-29", expected: .satisfiable([0...9, 20...29])),
    RangeCase(rfc: "9110 §14.2", range: "bytes=0-99,50-149", expected: .satisfiable([0...149])),
    RangeCase(rfc: "9110 §14.2", range: "bytes=500-599,0-99", expected: .satisfiable([500...599, 0...99])),
    RangeCase(rfc: "9110 §14.1.1", range: "bytes=500-400", expected: .full),
    RangeCase(rfc: "9110 §14.1.1", range: "bytes=abc", expected: .full),
    RangeCase(rfc: "9110 §14.1.1", range: "bytes=", expected: .full),
    RangeCase(rfc: "9110 §14.1.1", range: "bytes=1--2", expected: .full),
    RangeCase(rfc: "9110 §14.1.1", range: "items=0-5", expected: .full),
    RangeCase(rfc: "9110 §14.1.1", range: "0-5", expected: .full),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=1000-", expected: .unsatisfiable),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=-0", expected: .unsatisfiable),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=0-", length: 0, expected: .unsatisfiable),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=2000-3000,10-19", expected: .satisfiable([10...19])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=0-99999999999999999999999", expected: .satisfiable([0...999])),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=99999999999999999999999-", expected: .unsatisfiable),
    RangeCase(rfc: "9110 §14.2", range: "bytes=" + Array(repeating: "1-2", count: 65).joined(separator: ","), expected: .full),
    RangeCase(
        rfc: "9110 §14.2", range: "bytes=" + (0..<17).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ","), expected: .full),
    RangeCase(
        rfc: "9110 §14.2", range: "bytes=" + (0..<16).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ","),
        expected: .satisfiable((0..<16).map { ($0 * 10)...($0 * 10 + 1) })),
    RangeCase(rfc: "9110 §14.2", range: "bytes=0-99,50-149,60-70", expected: .full),
    RangeCase(rfc: "9110 §14.2", range: "bytes=0-9,10-19,20-29", expected: .satisfiable([0...29])),
    RangeCase(rfc: "9110 §14.2", range: "bytes=-100,900-", expected: .satisfiable([900...999])),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "\"v1\"", expected: .satisfiable([0...9])),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "\"v2\"", expected: .full),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "W/\"v1\"", expected: .full),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "Mon, 01 Jan 2024 00:00:00 GMT", expected: .satisfiable([0...9])),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "Tue, 02 Jan 2024 00:00:00 GMT", expected: .full),
    RangeCase(rfc: "9110 §13.1.5", range: "bytes=0-9", ifRange: "garbage", expected: .full),
    RangeCase(rfc: "9110 §14.1.2", range: "bytes=0-9", length: -5, expected: .unsatisfiable),
]

@Test("Range requests", arguments: rangeCases)
func ranges(_ c: RangeCase) {
    let r = evaluateRange(c.range, ifRange: c.ifRange, etag: "\"v1\"", lastModified: t0Date, contentLength: c.length)
    #expect(r == c.expected, "RFC \(c.rfc)")
}
