/// The framing of a `multipart/byteranges` answer to a request for several ranges
/// (RFC 9110 §14.6, §15.3.7.2): each part is a boundary delimiter, the representation's
/// `Content-Type` (when it has one) and the part's `Content-Range`, an empty line and the part's
/// bytes; the body ends with the closing delimiter. The caller writes `partHeader(i)`, the bytes
/// of `ranges[i]`, …, then `closingDelimiter`; `contentLength` is the length of the whole.
public struct MultipartByteranges: Sendable, Equatable {
    /// The boundary (RFC 2046 §5.1.1: 1–70 characters, here letters and digits only).
    public let boundary: String
    /// The representation's `Content-Type`, repeated in every part; `nil` leaves it out.
    public let partContentType: String?
    /// The representation's complete length, in every part's `Content-Range`.
    public let completeLength: Int
    /// The ranges, in the order they are sent (inclusive offsets within the representation).
    public let ranges: [ClosedRange<Int>]

    /// Creates the framing.
    public init(boundary: String, partContentType: String?, completeLength: Int, ranges: [ClosedRange<Int>]) {
        self.boundary = boundary
        self.partContentType = partContentType
        self.completeLength = completeLength
        self.ranges = ranges
    }

    /// The response's `Content-Type`: `multipart/byteranges; boundary=…`.
    public var contentType: String { "multipart/byteranges; boundary=" + boundary }

    /// What precedes part `index`'s bytes: its delimiter (on a new line after the previous
    /// part), `Content-Type`, `Content-Range` and the empty line.
    public func partHeader(_ index: Int) -> String {
        let range = ranges[index]
        var text = index == 0 ? "--" : "\r\n--"
        text += boundary + "\r\n"
        if let partContentType { text += "Content-Type: " + partContentType + "\r\n" }
        text += "Content-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(completeLength)\r\n\r\n"
        return text
    }

    /// The closing delimiter that ends the body.
    public var closingDelimiter: String { "\r\n--" + boundary + "--\r\n" }

    /// The length in bytes of the whole multipart body.
    public var contentLength: Int {
        ranges.indices.reduce(closingDelimiter.utf8.count) { $0 + partHeader($1).utf8.count + ranges[$1].count }
    }

    /// A boundary from 64 random bits (as hex), so it cannot be predicted from the content.
    public static func boundary(random: UInt64) -> String {
        let hex = String(random, radix: 16)
        return "paca" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
