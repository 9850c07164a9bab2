/// FNV-1a, 64 bits: a stable digest for fingerprints and log key hashes (not for security).
public enum FNV1a {
    /// The 64-bit FNV-1a of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        var text = text
        // Over the contiguous UTF-8 storage (native strings are; others are made so once), not
        // through the String.UTF8View iterator.
        return text.withUTF8 { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            return hash
        }
    }

    /// The hash as 16 lower-case hex digits.
    public static func hex(_ text: String) -> String {
        let value = String(hash(text), radix: 16)
        return String(repeating: "0", count: 16 - value.count) + value
    }
}
