/// A `Content-Range` of a 206 part (RFC 9110 §14.4): `bytes first-last/complete` or
/// `bytes first-last/*`.
public struct ContentRange: Sendable, Equatable {
    /// The part's bytes, inclusive offsets.
    public var range: ClosedRange<Int>
    /// The representation's complete length; `nil` for `*` (unknown).
    public var completeLength: Int?

    /// Creates a content range.
    public init(range: ClosedRange<Int>, completeLength: Int?) {
        self.range = range
        self.completeLength = completeLength
    }

    /// Parses the field's value; `nil` for another unit, an unsatisfied-range form
    /// (`bytes */n`), `last < first`, or a complete length not greater than `last`
    /// (§14.4: such a value is invalid).
    public init?(parsing value: String) {
        let text = ASCII.trimmed(value)
        guard let space = text.firstIndex(of: " "), ASCII.lowercased(String(text[..<space])) == "bytes" else { return nil }
        let spec = ASCII.trimmed(String(text[text.index(after: space)...]))
        guard let slash = spec.firstIndex(of: "/"), let dash = spec[..<slash].firstIndex(of: "-") else { return nil }
        guard let first = Int(exactDigits: spec[..<dash]), let last = Int(exactDigits: spec[spec.index(after: dash)..<slash]),
            last >= first
        else { return nil }
        let complete = spec[spec.index(after: slash)...]
        if complete == "*" {
            self.init(range: first...last, completeLength: nil)
            return
        }
        guard let length = Int(exactDigits: complete), length > last else { return nil }
        self.init(range: first...last, completeLength: length)
    }
}

extension Int {
    /// `1*DIGIT` that fits an `Int`; `nil` for anything else (signs and spaces included).
    init?(exactDigits text: Substring) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text) else { return nil }
        self = value
    }
}
