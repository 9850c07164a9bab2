/// How to answer a request's `Range` from a complete stored representation (RFC 9110 §14).
public enum RangeResult: Sendable, Equatable {
    /// Send the whole representation with 200 (no Range, an unsupported unit, invalid syntax,
    /// too many ranges, or a failed `If-Range`).
    case full
    /// Send 206 with these byte ranges (inclusive offsets, each within the representation).
    case satisfiable([ClosedRange<Int>])
    /// Send 416 with `Content-Range: bytes */length`.
    case unsatisfiable
}
