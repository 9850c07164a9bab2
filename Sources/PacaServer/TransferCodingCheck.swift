import NIOHTTP1

/// The transfer codings of a request paca can read (RFC 9112 §6.1, §7): `chunked`, once, and
/// nothing else. NIO's decoder already refuses a `Transfer-Encoding` whose last coding is not
/// `chunked` (the body's length would be unknown) and one sent with `Content-Length`; it frames
/// `gzip, chunked` by its chunks and hands on a body that is still gzip-coded. paca would then
/// forward those bytes with its own framing and without the coding, so the origin would read
/// them as the content.
enum TransferCodingCheck {
    /// Why a request must be refused.
    enum Problem: Equatable {
        /// A coding other than `chunked` (RFC 9112 §6.1: "A server that receives a request
        /// message with a transfer coding it does not understand SHOULD respond with 501 (Not
        /// Implemented)").
        case notImplemented(String)
        /// `chunked` more than once (RFC 9112 §6.1: "A sender MUST NOT apply the chunked
        /// transfer coding more than once to a message body"), or an empty coding.
        case malformed(String)
    }

    /// What is wrong with `head`'s transfer codings, or `nil` when it has none or only `chunked`.
    static func problem(_ head: HTTPRequestHead) -> Problem? {
        var chunked = 0
        for field in head.headers where field.name.utf8.count == 17 && field.name.lowercased() == "transfer-encoding" {
            for coding in field.value.split(separator: ",", omittingEmptySubsequences: false) {
                let name = coding.trimmingWhitespace().lowercased()
                // A coding's parameters (`;q=...`) are not allowed on `chunked` and mark any other
                // coding as one paca does not implement either way.
                if name == "chunked" {
                    chunked += 1
                } else if name.isEmpty {
                    return .malformed("empty transfer coding")
                } else {
                    return .notImplemented("transfer coding \(name.prefix(40)) not implemented")
                }
            }
        }
        return chunked > 1 ? .malformed("chunked applied more than once") : nil
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
    fileprivate func trimmingWhitespace() -> Substring {
        var trimmed = self
        while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
