/// Token syntax (RFC 9110 §5.6.2).
enum HTTPToken {
    /// Whether `b` is a `tchar`.
    static func isTChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// Whether `s` is a non-empty token.
    static func isToken(_ s: String) -> Bool {
        var any = false
        for b in s.utf8 {
            if !isTChar(b) { return false }
            any = true
        }
        return any
    }
}
