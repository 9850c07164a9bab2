import NIOHTTP1

/// The `Host` rules a server must enforce before anything else reads the request
/// (RFC 9112 §3.2): "A server MUST respond with a 400 (Bad Request) status code to any
/// HTTP/1.1 request message that lacks a Host header field and to any request message that
/// contains more than one Host header field line or a Host header field with an invalid field
/// value."
enum HostFieldCheck {
    /// Why `head` must be refused with 400, or `nil` when its `Host` is acceptable.
    static func problem(_ head: HTTPRequestHead) -> String? {
        // Field lines as sent: `canonicalForm` would split on commas and drop an empty value.
        var value: String?
        for field in head.headers where isHostName(field.name) {
            if value != nil { return "more than one Host field" }
            value = field.value
        }
        guard let value else {
            return head.version.major == 1 && head.version.minor >= 1 ? "missing Host field" : nil
        }
        return isValidHost(value) ? nil : "invalid Host field"
    }

    /// Whether a field name is `Host`, in any case, without building a lowercased copy.
    private static func isHostName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard utf8.count == 4 else { return false }
        var index = utf8.startIndex
        for expected in "host".utf8 {
            guard utf8[index] | 0x20 == expected else { return false }
            index = utf8.index(after: index)
        }
        return true
    }

    /// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), where `uri-host` is an IP-literal, an
    /// IPv4 address or a reg-name (RFC 3986 §3.2.2) and `port = *DIGIT`. An empty value is valid
    /// (RFC 9110 §7.2: sent when the target URI has no authority).
    static func isValidHost(_ value: String) -> Bool {
        // The bytes in place: no array is built for the field on every request.
        var value = value
        return value.withUTF8 { isValidHost(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// `isValidHost` over the bytes of a value in place (the request-head fast path's check).
    static func isValidHost(bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        if count > 0, bytes[0] == UInt8(ascii: "[") {
            // IP-literal: `[` then unreserved, sub-delims and `:` up to `]`, at least one.
            index = 1
            while index < count, bytes[index] != UInt8(ascii: "]") {
                guard isRegNameByte(bytes[index]) || bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
            }
            guard index < count, index > 1 else { return false }
            index += 1
        } else {
            // reg-name (IPv4 addresses are reg-names as far as bytes go), with its `%XX`.
            while index < count, bytes[index] != UInt8(ascii: ":") {
                let byte = bytes[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else { return false }
                    index += 3
                    continue
                }
                guard isRegNameByte(byte) else { return false }
                index += 1
            }
        }
        // `[ ":" port ]`, `port = *DIGIT`.
        guard index < count else { return true }
        guard bytes[index] == UInt8(ascii: ":") else { return false }
        index += 1
        while index < count {
            guard bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return false }
            index += 1
        }
        return true
    }

    /// `unreserved / sub-delims` (RFC 3986 §2.3, §2.2): `A–Z a–z 0–9 - . _ ~ ! $ & ' ( ) * + , ; =`,
    /// one bit per byte value in two words (no byte at or above 128 is one).
    @inline(__always)
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        let mask: UInt64 =
            switch byte >> 6 {
            case 0: 0x2BFF_7FD2_0000_0000
            case 1: 0x47FF_FFFE_87FF_FFFE
            default: 0
            }
        return mask >> UInt64(byte & 63) & 1 == 1
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }
}
