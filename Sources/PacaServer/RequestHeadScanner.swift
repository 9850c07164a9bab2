import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// The strict check of the request-head fast path (issue 12): a byte-level reading of the common
/// request head, `GET|HEAD SP origin-form SP HTTP/1.(1|0) CRLF *( field-line CRLF ) CRLF`, that
/// takes only what NIO's decoder reads the same way and turns everything else away, so that NIO's
/// decoder stays the judge of every request that is not plain (bodies, other versions, odd
/// whitespace, obs-text, obs-fold, bare LF, `Upgrade`, a `Connection` other than one
/// `keep-alive` or one `close`, oversized heads, too many fields) and of every error. A head it
/// takes also has exactly one valid `Host` and no `Expect`, so the connection's handler checks
/// neither again. Whether the connection stays open after it is read from the version and the
/// one `Connection` option (RFC 9112 §9.3): HTTP/1.1 unless `close`, HTTP/1.0 only with
/// `keep-alive`.
///
/// A head it takes becomes the same `HTTPRequestHead` NIO's decoder makes of those bytes: the
/// same method, target, version, field names and values in order (values without their leading
/// spaces and tabs, with their trailing ones, as llhttp gives them), and the same keep-alive
/// reading. (Clients that open a connection per request send `Connection: close`, or HTTP/1.0
/// as ApacheBench does; before they were taken here, each of their connections paid for NIO's
/// decoder being added to its pipeline.)
enum RequestHeadScanner {
    /// What the bytes at the start of a buffer are.
    enum Outcome: Equatable {
        /// A head the fast path takes, `length` bytes long (its final CRLF included), with
        /// `fieldCount` field lines; `keepAlive`: the connection stays open after its answer.
        case complete(length: Int, fieldCount: Int, keepAlive: Bool)
        /// Every byte so far fits such a head, but it has not ended yet.
        case incomplete
        /// Not a head the fast path takes: NIO's decoder decides.
        case unsuitable
    }

    private static let space: UInt8 = 0x20
    private static let tab: UInt8 = 0x09
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A
    private static let colon: UInt8 = 0x3A
    private static let slash: UInt8 = 0x2F

    /// Reads the head at the start of `bytes`. A head longer than `limit` bytes, or with more than
    /// `maxFieldCount` field lines, is `unsuitable` (NIO's decoder, which counts fewer bytes than
    /// the head's length, then says whether it is too large).
    static func scan(_ bytes: UnsafeRawBufferPointer, limit: Int, maxFieldCount: Int) -> Outcome {
        let available = min(bytes.count, limit)
        // Running out of bytes within the limit means the head may still end; at the limit, it
        // is too long for the fast path.
        let exhausted: Outcome = bytes.count > limit ? .unsuitable : .incomplete
        var index: Int
        switch literal("GET ", in: bytes, at: 0, available: available) {
        case .matched(let end):
            index = end
        case .partial:
            return exhausted
        case .mismatch:
            switch literal("HEAD ", in: bytes, at: 0, available: available) {
            case .matched(let end): index = end
            case .partial: return exhausted
            case .mismatch: return .unsuitable
            }
        }
        guard index < available else { return exhausted }
        guard bytes[index] == slash else { return .unsuitable }
        index += 1
        index = skipWords(bytes, from: index, available: available, below: 0x21)
        while index < available, isVisible(bytes[index]) { index += 1 }
        guard index < available else { return exhausted }
        guard bytes[index] == space else { return .unsuitable }
        switch literal(" HTTP/1.", in: bytes, at: index, available: available) {
        case .matched(let end): index = end
        case .partial: return exhausted
        case .mismatch: return .unsuitable
        }
        guard index < available else { return exhausted }
        let isHTTP11: Bool
        switch bytes[index] {
        case UInt8(ascii: "1"): isHTTP11 = true
        case UInt8(ascii: "0"): isHTTP11 = false
        default: return .unsuitable
        }
        switch literal("\r\n", in: bytes, at: index + 1, available: available) {
        case .matched(let end): index = end
        case .partial: return exhausted
        case .mismatch: return .unsuitable
        }
        var fieldCount = 0
        var connection = ConnectionOption.none
        var hostSeen = false
        while true {
            guard index < available else { return exhausted }
            if bytes[index] == cr {
                guard index + 1 < available else { return exhausted }
                // Without its one valid `Host` a head goes to NIO's decoder: the connection's
                // handler refuses it after that when it is HTTP/1.1 (HTTP/1.0 may lack one).
                guard hostSeen else { return .unsuitable }
                guard bytes[index + 1] == lf else { return .unsuitable }
                let keepAlive = isHTTP11 ? connection != .close : connection == .keepAlive
                return .complete(length: index + 2, fieldCount: fieldCount, keepAlive: keepAlive)
            }
            // Counted as a field starts, as NIO's decoder counts (it refuses the first one too many
            // before the line ends).
            fieldCount += 1
            guard fieldCount <= maxFieldCount else { return .unsuitable }
            let nameStart = index
            while index < available, isTokenByte(bytes[index]) { index += 1 }
            guard index < available else { return exhausted }
            // A line that starts with a space or tab (obs-fold), an empty name, whitespace before
            // the colon, any other byte in a name: NIO's decoder decides.
            guard bytes[index] == colon, index > nameStart else { return .unsuitable }
            let nameEnd = index
            index += 1
            let valueStart = index
            index = skipWords(bytes, from: index, available: available, below: 0x20)
            while index < available, isValueByte(bytes[index]) { index += 1 }
            guard index < available else { return exhausted }
            guard bytes[index] == cr else { return .unsuitable }
            guard index + 1 < available else { return exhausted }
            guard bytes[index + 1] == lf else { return .unsuitable }
            let valueEnd = index
            index += 2
            switch FramingField(name: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])) {
            case .none:
                break
            case .body, .upgrade, .expect:
                return .unsuitable
            case .host:
                // One, valid as the connection's handler reads it (RFC 9112 §3.2): a head the fast
                // path takes needs no Host check after it.
                let value = trimmed(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), trailing: false)
                guard !hostSeen, HostFieldCheck.isValidHost(bytes: value) else { return .unsuitable }
                hostSeen = true
            case .connection:
                // NIO's decoder reads keep-alive from llhttp, a head made here from the fields: the
                // two agree on one `Connection` holding just `keep-alive` or just `close`.
                let value = trimmed(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), trailing: true)
                guard case .none = connection else { return .unsuitable }
                if equalsIgnoringCase(value, "keep-alive") {
                    connection = .keepAlive
                } else if equalsIgnoringCase(value, "close") {
                    connection = .close
                } else {
                    return .unsuitable
                }
            }
        }
    }

    /// The head of `bytes`, which `scan` found complete with `fieldCount` field lines.
    static func head(_ bytes: UnsafeRawBufferPointer, fieldCount: Int) -> HTTPRequestHead {
        // A flag, not `method == .HEAD`: `HTTPMethod` compares its raw value strings.
        let isHead = bytes[0] == UInt8(ascii: "H")
        var index = isHead ? 5 : 4
        let targetStart = index
        index = position(of: space, in: bytes, from: index)
        let uri = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<index]), as: UTF8.self)
        let version: HTTPVersion = bytes[index + 8] == UInt8(ascii: "1") ? .http1_1 : .http1_0
        index += 11  // " HTTP/1.1\r\n" or " HTTP/1.0\r\n"
        var fields: [(String, String)] = []
        fields.reserveCapacity(fieldCount)
        while bytes[index] != cr {
            let nameStart = index
            while bytes[index] != colon { index += 1 }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<index]), as: UTF8.self)
            let valueStart = index + 1
            index = position(of: cr, in: bytes, from: valueStart)
            let value = trimmed(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<index]), trailing: false)
            fields.append((name, String(decoding: value, as: UTF8.self)))
            index += 2
        }
        return HTTPRequestHead(version: version, method: isHead ? .HEAD : .GET, uri: uri, headers: HTTPHeaders(fields))
    }

    /// The head's one `Connection` option, if any.
    private enum ConnectionOption {
        case none
        case keepAlive
        case close
    }

    /// The fields whose presence sends a head to NIO's decoder.
    private enum FramingField {
        case none
        /// `Content-Length` or `Transfer-Encoding`: a body, which NIO's decoder frames.
        case body
        /// `Upgrade`: llhttp may stop parsing after the head.
        case upgrade
        /// `Connection`: fine only as one plain `keep-alive` or `close`.
        case connection
        /// `Host`: exactly one, with a valid value (else the connection's handler answers 400).
        case host
        /// `Expect`: the connection's handler answers it (100 or 417).
        case expect

        init(name: UnsafeRawBufferPointer) {
            switch name.count {
            case 4 where equalsIgnoringCase(name, "host"): self = .host
            case 6 where equalsIgnoringCase(name, "expect"): self = .expect
            case 7 where equalsIgnoringCase(name, "upgrade"): self = .upgrade
            case 10 where equalsIgnoringCase(name, "connection"): self = .connection
            case 14 where equalsIgnoringCase(name, "content-length"): self = .body
            case 17 where equalsIgnoringCase(name, "transfer-encoding"): self = .body
            default: self = .none
            }
        }
    }

    private enum LiteralMatch {
        /// The literal is there; the index after it.
        case matched(end: Int)
        /// The bytes end inside the literal, agreeing with it so far.
        case partial
        case mismatch
    }

    private static func literal(_ text: StaticString, in bytes: UnsafeRawBufferPointer, at start: Int, available: Int) -> LiteralMatch {
        var index = start
        for expected in UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount) {
            guard index < available else { return .partial }
            guard bytes[index] == expected else { return .mismatch }
            index += 1
        }
        return .matched(end: index)
    }

    /// `bytes` equal `lowercase` ignoring ASCII case. Exact for the bytes compared here (token and
    /// field-value bytes, which hold no control character that `| 0x20` could map onto a letter
    /// or `-`).
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for offset in 0..<bytes.count where bytes[offset] | 0x20 != expected[offset] { return false }
        return true
    }

    /// `value` without its leading spaces and tabs (OWS), and without its trailing ones when
    /// `trailing`. NIO's decoder gives a value with its trailing whitespace (llhttp keeps it).
    private static func trimmed(_ value: UnsafeRawBufferPointer, trailing: Bool) -> UnsafeRawBufferPointer {
        var start = 0
        var end = value.count
        while start < end, value[start] == space || value[start] == tab { start += 1 }
        while trailing, end > start, value[end - 1] == space || value[end - 1] == tab { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: value[start..<end])
    }

    /// The index of the first `byte` in `bytes` from `start` (which `scan` found there).
    @inline(__always)
    private static func position(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let base = bytes.baseAddress! + start
        let found = memchr(base, Int32(byte), bytes.count - start)!
        return start + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
    }

    /// Skips eight bytes at a time while every one of them is in `below ... 0x7E` (SWAR: one
    /// 64-bit load and a few operations per word instead of a test per byte); returns where the
    /// word that may hold another byte starts, for the byte loop to go on from. `below` is at most
    /// 0x80. The tests are exact: a word is skipped only when none of its bytes is outside.
    @inline(__always)
    private static func skipWords(_ bytes: UnsafeRawBufferPointer, from start: Int, available: Int, below: UInt8) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let low = ones &* UInt64(below)
        // Adding 1 to each byte sets the high bit of 0x7F; bytes from 0x80 have it already.
        let high = ones &* (0x7F - 0x7E)
        var index = start
        while index + 8 <= available {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            // A byte under `below` borrows into its high bit (bithacks' "hasless"); one over 0x7E
            // has its high bit set after the add ("hasmore"). Carries only reach bytes above an
            // outside one, so a word with none is never flagged.
            let outside = ((word &- low) & ~word | ((word &+ high) | word)) & highs
            guard outside == 0 else { break }
            index += 8
        }
        return index
    }

    /// A visible ASCII byte (VCHAR without obs-text): the bytes taken in a target.
    private static func isVisible(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E
    }

    /// Visible ASCII, space and tab: the field-value bytes taken (no obs-text, no control bytes).
    private static func isValueByte(_ byte: UInt8) -> Bool {
        isVisible(byte) || byte == space || byte == tab
    }

    /// `tchar` (RFC 9110 §5.6.2): the bytes of a field name, as a bit set over ASCII (bit `b` of
    /// the first word for bytes 0–63, bit `b − 64` of the second for 64–127).
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0..<64: return (0x03ff_6cfa_0000_0000 as UInt64) >> byte & 1 == 1
        case 64..<128: return (0x57ff_ffff_c7ff_fffe as UInt64) >> (byte - 64) & 1 == 1
        default: return false
        }
    }
}
