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
        return value.withUTF8 { isValidHost(bytes: $0) }
    }

    private static func isValidHost(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var host = bytes[...]
        var port = bytes[bytes.endIndex...]
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = host[host.index(after: host.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isUnreserved($0) || isSubDelim($0) || $0 == UInt8(ascii: ":") }) else {
                return false
            }
            let rest = host[host.index(after: close)...]
            if let first = rest.first {
                guard first == UInt8(ascii: ":") else { return false }
                port = rest.dropFirst()
            }
            host = literal
        } else {
            if let colon = host.firstIndex(of: UInt8(ascii: ":")) {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            guard isRegName(host) else { return false }
        }
        return port.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2); IPv4 addresses
    /// are reg-names too as far as bytes go.
    private static func isRegName(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, isHex(bytes[first]) else { return false }
                let second = bytes.index(after: first)
                guard second < bytes.endIndex, isHex(bytes[second]) else { return false }
                index = bytes.index(after: second)
                continue
            }
            guard isUnreserved(byte) || isSubDelim(byte) else { return false }
            index = bytes.index(after: index)
        }
        return true
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    private static func isSubDelim(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default: return false
        }
    }
}
