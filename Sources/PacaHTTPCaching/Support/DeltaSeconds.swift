/// `delta-seconds` (RFC 9111 §1.2.2) and the saturating arithmetic used for times.
public enum DeltaSeconds: Sendable {
    /// The largest value any delta-seconds becomes: 2^31 seconds (RFC 9111 §1.2.2 lets a cache
    /// use 2147483648 for any larger value or overflowing calculation).
    public static let maximum: Int64 = 2_147_483_648

    /// Parses `1*DIGIT`, accepting the quoted-string form too (RFC 9111 §5.2: recipients accept
    /// both forms). Returns `nil` for anything else (empty, sign, spaces inside, fractions, garbage).
    /// Values above `maximum` clamp to `maximum`.
    public static func parse(_ raw: String) -> Int64? {
        let text = HTTPList.unquoted(ASCII.trimmed(raw))
        var value: Int64 = 0
        var any = false
        for b in text.utf8 {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            any = true
            if value < maximum {
                value = value * 10 + Int64(b - 0x30)
                if value > maximum { value = maximum }
            }
        }
        return any ? value : nil
    }

    /// Clamps a configured number of seconds to `0...maximum`.
    public static func clamp(_ seconds: Int64) -> Int64 {
        min(max(seconds, 0), maximum)
    }

    /// Seconds (clamped to `0...maximum`) as milliseconds.
    static func millis(_ seconds: Int64) -> Int64 { clamp(seconds) * 1000 }
}
