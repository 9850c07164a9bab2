/// A request target reduced to what paca keys and forwards: the normalised path and the raw
/// query. Normalisation follows RFC 3986 §6.2.2 (percent-encoded unreserved characters decoded,
/// the hex digits of the rest upper-cased, dot segments removed) and also merges `//`; `%2F`
/// stays encoded.
public struct RequestTarget: Sendable, Equatable {
    /// The normalised path, starting with `/`.
    public var path: String
    /// The query after `?` (without it), as sent; `nil` when there was no `?`.
    public var query: String?

    /// Why a target was refused.
    public enum ParseError: Error, Equatable {
        /// Not origin-form or absolute-form, or not a path.
        case invalidTarget
        /// A `%` not followed by two hex digits.
        case badEncoding
        /// A byte no request-target may hold: a control, space, non-ASCII, `#` (a fragment is
        /// never sent, RFC 9112 §3.2) or one RFC 3986 excludes (`\`, `"`, `<`, `>`, `^`, `` ` ``,
        /// `{`, `|`, `}`).
        case forbiddenByte
        /// An `http`/`https` absolute-form target with an empty host (RFC 9110 §4.2.1, §4.2.2).
        case emptyHost
    }

    /// Parses origin-form (`/a/b?c`) and absolute-form (`http://host/a/b?c`) targets; refuses an
    /// absolute-form target with an empty host. See `parseReceived` for a client's target.
    public static func parse(_ target: String) throws(ParseError) -> RequestTarget {
        // The common case, an origin-form target that needs no normalisation, is recognised in
        // one pass over the bytes and costs no copy of the path.
        let utf8 = target.utf8
        if utf8.first == UInt8(ascii: "/") {
            var questionMark: String.Index?
            var clean = true
            var previous: UInt8 = 0
            for index in utf8.indices {
                let byte = utf8[index]
                if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                    if byte == UInt8(ascii: "?") { questionMark = index }
                    clean = clean && byte == UInt8(ascii: "?")
                    break
                }
                if !isPlainPathByte(byte, after: previous) {
                    clean = false
                    break
                }
                previous = byte
            }
            if clean {
                guard let questionMark else { return RequestTarget(path: target, query: nil) }
                let query = target[target.index(after: questionMark)...]
                if !query.utf8.contains(UInt8(ascii: "#")) {
                    return RequestTarget(path: String(target[..<questionMark]), query: String(query))
                }
            }
        }
        return try parseGeneral(target)
    }

    /// Parses a request-target as a client sent it (RFC 9112 §3.2): `parse`, after refusing any
    /// byte a request-target may not hold (`ParseError.forbiddenByte`). `parse` alone stays
    /// lenient (a fragment is dropped, raw non-ASCII percent-encoded) for targets that did not
    /// come off the wire: `Location` values, purge patterns, URLs in access logs.
    public static func parseReceived(_ target: String) throws(ParseError) -> RequestTarget {
        // One pass over the bytes in place finds a forbidden byte and, for the common
        // origin-form target that needs no normalisation, where its query starts; anything
        // else goes the general way.
        let scan: ReceivedScan
        if let inPlace = target.utf8.withContiguousStorageIfAvailable(scanReceived) {
            scan = inPlace
        } else {
            var text = target
            scan = text.withUTF8(scanReceived)
        }
        switch scan {
        case .forbidden:
            throw .forbiddenByte
        case .plain(nil):
            return RequestTarget(path: target, query: nil)
        case .plain(let offset?):
            let utf8 = target.utf8
            let questionMark = utf8.index(utf8.startIndex, offsetBy: offset)
            return RequestTarget(path: String(target[..<questionMark]), query: String(target[utf8.index(after: questionMark)...]))
        case .general:
            return try parse(target)
        }
    }

    /// The one pass of `parseReceived` over a target's bytes.
    private static func scanReceived(_ bytes: UnsafeBufferPointer<UInt8>) -> ReceivedScan {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .general }
        let count = bytes.count
        var index = 0
        // The path while it is plain, up to its `?`: bytes that need no normalisation and
        // are not forbidden (the forbidden `#` and `\\` are visible ASCII, so a plain path byte
        // is checked for them too).
        var plainPath = base[0] == UInt8(ascii: "/")
        var questionMark: Int?
        if plainPath {
            var previous: UInt8 = 0
            while index < count {
                let byte = base[index]
                if byte == UInt8(ascii: "?") {
                    questionMark = index
                    break
                }
                guard byte != UInt8(ascii: "#"), byte != UInt8(ascii: "\\"), isPlainPathByte(byte, after: previous) else {
                    plainPath = false
                    break
                }
                previous = byte
                index += 1
            }
        }
        // Every byte after it.
        while index < count {
            if isForbiddenTargetByte(base[index]) { return .forbidden }
            index += 1
        }
        return plainPath ? .plain(questionMark: questionMark) : .general
    }

    /// What one pass over a received target found.
    private enum ReceivedScan {
        /// A byte no target may hold.
        case forbidden
        /// An origin-form target whose path needs no normalisation; its `?` at this byte offset.
        case plain(questionMark: Int?)
        /// Anything else: `parse` decides.
        case general
    }

    /// Whether `byte` may not appear anywhere in a request-target (see `ParseError.forbiddenByte`).
    @inline(__always)
    static func isForbiddenTargetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0...0x20, 0x7F...0xFF: return true
        // A fragment is never sent, and a backslash is a path separator to some servers (a
        // smuggling vector). `" < > ^ ` { | }` are outside RFC 3986 too, but clients send them
        // raw in queries (JSON, templates) and nginx and Varnish take them: they pass, and reach
        // the origin as sent.
        case UInt8(ascii: "#"), UInt8(ascii: "\\"): return true
        default: return false
        }
    }

    /// A path byte that normalisation leaves alone: printable ASCII other than `%`, and not
    /// the start of a dot segment or of an empty segment.
    @inline(__always)
    private static func isPlainPathByte(_ byte: UInt8, after previous: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "%") else { return false }
        if previous == UInt8(ascii: "/"), byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".") { return false }
        return true
    }

    private static func parseGeneral(_ target: String) throws(ParseError) -> RequestTarget {
        var rest = Substring(target)
        if rest.first != "/", rest.prefix(8).lowercased().hasPrefix("http://") || rest.prefix(8).lowercased().hasPrefix("https://") {
            let afterScheme = rest[rest.index(rest.firstIndex(of: ":")!, offsetBy: 3)...]
            let authority = afterScheme[..<(afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex)]
            var host = authority[(authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex)...]
            if host.first != "[", let colon = host.lastIndex(of: ":") { host = host[..<colon] }
            if host.isEmpty { throw .emptyHost }
            if let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                rest = afterScheme[slash...]
                if rest.first == "?" { rest = "/" + rest }
            } else {
                rest = "/"
            }
        }
        guard rest.first == "/" else { throw .invalidTarget }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: String?
        var rawPath = rest
        if let mark = rest.firstIndex(of: "?") {
            rawPath = rest[..<mark]
            query = String(rest[rest.index(after: mark)...])
        }
        return RequestTarget(path: try normalisePath(rawPath), query: query)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Normalises a path (see the type's documentation).
    public static func normalisePath(_ raw: Substring) throws(ParseError) -> String {
        // Fast path: nothing to decode, no dot segments, no double slash.
        let bytes = raw.utf8
        var needsWork = false
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "%") || (byte == UInt8(ascii: "/") && previous == UInt8(ascii: "/"))
                || (byte == UInt8(ascii: ".") && previous == UInt8(ascii: "/")) || byte < 0x21 || byte >= 0x7F
            {
                needsWork = true
                break
            }
            previous = byte
        }
        if !needsWork { return String(raw) }

        // Decode unreserved escapes, canonicalise the others, percent-encode raw bytes outside
        // the allowed set.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var iterator = Array(bytes)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.popFirst(), let low = iterator.popFirst(), let h = hexValue(high), let l = hexValue(low)
                else { throw .badEncoding }
                let value = h << 4 | l
                if isUnreserved(value) {
                    decoded.append(value)
                } else {
                    decoded.append(UInt8(ascii: "%"))
                    decoded.append(hexDigits[Int(h)])
                    decoded.append(hexDigits[Int(l)])
                }
            } else if byte < 0x21 || byte >= 0x7F {
                decoded.append(UInt8(ascii: "%"))
                decoded.append(hexDigits[Int(byte >> 4)])
                decoded.append(hexDigits[Int(byte & 0xF)])
            } else {
                decoded.append(byte)
            }
        }
        // Remove dot segments (RFC 3986 §5.2.4) and merge empty segments.
        let segments = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        var output: [ArraySlice<UInt8>] = []
        for segment in segments {
            if segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = output.popLast()
                continue
            }
            output.append(segment)
        }
        var path = "/" + output.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        let last = decoded.last
        let endsInDot =
            segments.last.map { $0.elementsEqual([UInt8(ascii: ".")]) || $0.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) } ?? false
        if (last == UInt8(ascii: "/") || endsInDot), !path.hasSuffix("/") { path += "/" }
        return path
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
