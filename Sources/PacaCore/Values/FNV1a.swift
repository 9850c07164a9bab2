public import NIOCore

/// FNV-1a, 64 bits: a stable digest for fingerprints and log key hashes (not for security).
public enum FNV1a {
    /// The hash of no bytes, where every hash starts.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    /// The 64-bit FNV-1a of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        var text = text
        // Over the contiguous UTF-8 storage (native strings are; others are made so once), not
        // through the String.UTF8View iterator.
        return text.withUTF8 { bytes in hash(UnsafeRawBufferPointer(bytes), continuing: offsetBasis) }
    }

    /// `hash` (a hash so far, or `offsetBasis`) continued over `bytes`: the hash of two pieces
    /// in a row equals the hash of the two joined.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, continuing hash: UInt64) -> UInt64 {
        var hash = hash
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The hash as 16 lower-case hex digits.
    public static func hex(_ text: String) -> String {
        var buffer = ByteBuffer()
        writeHex(hash(text), to: &buffer)
        return String(buffer: buffer)
    }

    /// Appends `value` as 16 lower-case hex digits (leading zeros kept).
    public static func writeHex(_ value: UInt64, to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { target in
            for index in 0..<16 {
                let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0x0F
                target[index] = nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
            }
            return 16
        }
    }
}
