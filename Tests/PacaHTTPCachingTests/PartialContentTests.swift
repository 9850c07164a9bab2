import PacaHTTPCaching
import Testing

// MARK: - multipart/byteranges framing

@Test("RFC 9110 §14.6: multipart/byteranges parts carry Content-Type and Content-Range; Content-Length counts the whole body")
func multipartFraming() {
    let body = Array("0123456789".utf8)
    let framing = MultipartByteranges(boundary: "B", partContentType: "text/plain", completeLength: 10, ranges: [0...1, 7...9])
    var text = ""
    for (index, range) in framing.ranges.enumerated() {
        text += framing.partHeader(index) + String(decoding: body[range], as: UTF8.self)
    }
    text += framing.closingDelimiter
    #expect(
        text
            == "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
            + "\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789\r\n--B--\r\n")
    #expect(framing.contentLength == text.utf8.count)
    #expect(framing.contentType == "multipart/byteranges; boundary=B")
    let untyped = MultipartByteranges(boundary: "B", partContentType: nil, completeLength: 10, ranges: [0...0, 2...2])
    #expect(untyped.partHeader(1) == "\r\n--B\r\nContent-Range: bytes 2-2/10\r\n\r\n")
    #expect(MultipartByteranges.boundary(random: 0xAB) == "paca00000000000000ab")
}

// MARK: - Content-Range

struct ContentRangeCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let value: String
    let expected: ContentRange?
    var testDescription: String { "RFC \(rfc): \(value)" }
}

let contentRangeCases: [ContentRangeCase] = [
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes 0-99/300", expected: ContentRange(range: 0...99, completeLength: 300)),
    ContentRangeCase(rfc: "9110 §14.4", value: "Bytes 200-299/300", expected: ContentRange(range: 200...299, completeLength: 300)),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes 0-99/*", expected: ContentRange(range: 0...99, completeLength: nil)),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes */300", expected: nil),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes 100-99/300", expected: nil),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes 0-300/300", expected: nil),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes -1-5/300", expected: nil),
    ContentRangeCase(rfc: "9110 §14.4", value: "items 0-9/10", expected: nil),
    ContentRangeCase(rfc: "9110 §14.4", value: "bytes 0-9", expected: nil),
]

@Test("Content-Range of a 206 part", arguments: contentRangeCases)
func contentRanges(_ c: ContentRangeCase) {
    #expect(ContentRange(parsing: c.value) == c.expected, "RFC \(c.rfc)")
}

// MARK: - Combining parts

/// A 206 part of the ten-byte representation "0123456789".
struct PartArrival: Sendable {
    var contentRange: String?
    var etag: String? = "\"v1\""
    var body: String? = nil

    func bytes() -> [UInt8] {
        if let body { return Array(body.utf8) }
        guard let contentRange, let part = ContentRange(parsing: contentRange) else { return [] }
        return Array(Array("0123456789".utf8)[part.range])
    }
}

enum CombineExpectation: Sendable, Equatable {
    case notStorable(PartNotStorableReason)
    case partial(String)  // the layout
    case complete
}

struct CombineCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let note: String
    let parts: [PartArrival]
    let expected: CombineExpectation
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let combineCases: [CombineCase] = [
    CombineCase(
        rfc: "9111 §3.3", note: "one part is kept", parts: [PartArrival(contentRange: "bytes 0-3/10")], expected: .partial("10; 0-3")),
    CombineCase(
        rfc: "9111 §3.3", note: "a weak validator is not enough", parts: [PartArrival(contentRange: "bytes 0-3/10", etag: "W/\"v1\"")],
        expected: .notStorable(.noStrongValidator)),
    CombineCase(
        rfc: "9111 §3.3", note: "no validator", parts: [PartArrival(contentRange: "bytes 0-3/10", etag: nil)],
        expected: .notStorable(.noStrongValidator)),
    CombineCase(
        rfc: "9110 §14.4", note: "no Content-Range", parts: [PartArrival(contentRange: nil, body: "0123")],
        expected: .notStorable(.noContentRange)),
    CombineCase(
        rfc: "9110 §14.4", note: "unknown complete length", parts: [PartArrival(contentRange: "bytes 0-3/*", body: "0123")],
        expected: .notStorable(.unknownCompleteLength)),
    CombineCase(
        rfc: "9110 §14.4", note: "body shorter than its Content-Range", parts: [PartArrival(contentRange: "bytes 0-3/10", body: "01")],
        expected: .notStorable(.lengthMismatch)),
    CombineCase(
        rfc: "9111 §3.4", note: "disjoint parts stay apart",
        parts: [PartArrival(contentRange: "bytes 0-1/10"), PartArrival(contentRange: "bytes 6-7/10")], expected: .partial("10; 0-1, 6-7")),
    CombineCase(
        rfc: "9111 §3.4", note: "adjacent parts join",
        parts: [PartArrival(contentRange: "bytes 4-5/10"), PartArrival(contentRange: "bytes 2-3/10")], expected: .partial("10; 2-5")),
    CombineCase(
        rfc: "9111 §3.4", note: "overlapping parts join",
        parts: [PartArrival(contentRange: "bytes 0-4/10"), PartArrival(contentRange: "bytes 3-6/10")], expected: .partial("10; 0-6")),
    CombineCase(
        rfc: "9111 §3.4", note: "a part bridging two joins all three",
        parts: [
            PartArrival(contentRange: "bytes 0-1/10"), PartArrival(contentRange: "bytes 6-7/10"),
            PartArrival(contentRange: "bytes 1-6/10"),
        ], expected: .partial("10; 0-7")),
    CombineCase(
        rfc: "9111 §3.4", note: "a part inside another changes nothing",
        parts: [PartArrival(contentRange: "bytes 0-7/10"), PartArrival(contentRange: "bytes 2-3/10")], expected: .partial("10; 0-7")),
    CombineCase(
        rfc: "9111 §3.4", note: "parts covering the whole make a complete response",
        parts: [
            PartArrival(contentRange: "bytes 0-3/10"), PartArrival(contentRange: "bytes 7-9/10"),
            PartArrival(contentRange: "bytes 4-6/10"),
        ], expected: .complete),
    CombineCase(
        rfc: "9111 §3.4", note: "one part that is the whole",
        parts: [PartArrival(contentRange: "bytes 0-9/10")], expected: .complete),
    CombineCase(
        rfc: "9111 §3.4", note: "another strong validator starts a new set",
        parts: [PartArrival(contentRange: "bytes 0-3/10"), PartArrival(contentRange: "bytes 4-9/10", etag: "\"v2\"")],
        expected: .partial("10; 4-9")),
    CombineCase(
        rfc: "9111 §3.4", note: "another complete length starts a new set",
        parts: [PartArrival(contentRange: "bytes 0-3/10"), PartArrival(contentRange: "bytes 4-9/12", body: "456789")],
        expected: .partial("12; 4-9")),
]

@Test("Combining 206 parts", arguments: combineCases)
func combining(_ c: CombineCase) {
    var stored: StoredParts?
    var last = PartCombination.notStorable(.noContentRange)
    for part in c.parts {
        last = combinePart(contentRange: part.contentRange, etag: part.etag, body: part.bytes(), into: stored)
        switch last {
        case .partial(let parts), .complete(let parts): stored = parts
        case .notStorable: break
        }
    }
    switch (last, c.expected) {
    case (.notStorable(let reason), .notStorable(let expected)):
        #expect(reason == expected, "RFC \(c.rfc)")
    case (.partial(let parts), .partial(let layout)):
        #expect(parts.layout == layout, "RFC \(c.rfc)")
        for segment in parts.segments {
            let expected = Array(Array((parts.completeLength == 10 ? "0123456789" : "0123456789ab").utf8)[segment.range])
            #expect(segment.bytes == expected, "RFC \(c.rfc): the bytes sit at their offsets")
        }
        #expect(StoredParts(etag: parts.etag, layout: parts.layout, body: parts.body) == parts, "layout round trip")
    case (.complete(let parts), .complete):
        #expect(parts.body == Array("0123456789".utf8), "RFC \(c.rfc)")
    default:
        Issue.record("RFC \(c.rfc): \(c.note): got \(last), expected \(c.expected)")
    }
}

@Test("A stored layout that disagrees with its body is refused")
func badLayouts() {
    let body = Array("0123".utf8)
    #expect(StoredParts(etag: "\"v\"", layout: "10; 0-1, 5-6", body: body) != nil)
    #expect(StoredParts(etag: "\"v\"", layout: "10; 0-1, 5-7", body: body) == nil)
    #expect(StoredParts(etag: "\"v\"", layout: "10; 0-1, 2-3", body: body) == nil)  // adjacent: should have been one
    #expect(StoredParts(etag: "\"v\"", layout: "10; 5-6, 0-1", body: body) == nil)
    #expect(StoredParts(etag: "\"v\"", layout: "6; 0-1, 5-6", body: body) == nil)
    #expect(StoredParts(etag: "\"v\"", layout: "garbage", body: body) == nil)
}

// MARK: - Serving from parts

struct PartialServeCase: CustomTestStringConvertible, Sendable {
    let rfc: String
    let range: String?
    var ifRange: String? = nil
    let expected: PartialRangeResult
    var testDescription: String { "RFC \(rfc): \(range ?? "nil") If-Range \(ifRange ?? "-")" }
}

/// Parts 0-3 and 6-9 of a ten-byte representation.
let partialServeCases: [PartialServeCase] = [
    PartialServeCase(rfc: "9111 §3.3", range: nil, expected: .notCovered),
    PartialServeCase(rfc: "9111 §3.3", range: "bytes=0-3", expected: .serve([0...3])),
    PartialServeCase(rfc: "9111 §3.3", range: "bytes=1-2", expected: .serve([1...2])),
    PartialServeCase(rfc: "9111 §3.3", range: "bytes=2-7", expected: .notCovered),
    PartialServeCase(rfc: "9111 §3.3", range: "bytes=4-5", expected: .notCovered),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=-3", expected: .serve([7...9])),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=-5", expected: .notCovered),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=6-", expected: .serve([6...9])),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=5-", expected: .notCovered),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=8-500", expected: .serve([8...9])),
    PartialServeCase(rfc: "9110 §14.2", range: "bytes=0-1,7-8", expected: .serve([0...1, 7...8])),
    PartialServeCase(rfc: "9110 §14.2", range: "bytes=0-1,4-4", expected: .notCovered),
    PartialServeCase(rfc: "9110 §14.1.2", range: "bytes=10-", expected: .unsatisfiable),
    PartialServeCase(rfc: "9110 §13.1.5", range: "bytes=0-3", ifRange: "\"v1\"", expected: .serve([0...3])),
    PartialServeCase(rfc: "9110 §13.1.5", range: "bytes=0-3", ifRange: "\"v0\"", expected: .notCovered),
]

@Test("Range requests answered from stored parts", arguments: partialServeCases)
func servingFromParts(_ c: PartialServeCase) {
    var parts = StoredParts(etag: "\"v1\"", completeLength: 10)
    parts.insert(offset: 0, bytes: Array("0123".utf8))
    parts.insert(offset: 6, bytes: Array("6789".utf8))
    #expect(evaluatePartialRange(c.range, ifRange: c.ifRange, parts: parts, lastModified: nil) == c.expected, "RFC \(c.rfc)")
    if case .serve(let ranges) = c.expected {
        for range in ranges {
            #expect(parts.bytes(in: range).map(Array.init) == Array(Array("0123456789".utf8)[range]))
        }
    }
}
