/// Redis Cluster's key → hash slot function: CRC16 (XMODEM: polynomial 0x1021, initial value 0)
/// of the key, or of its hash tag, modulo 16384.
///
/// A hash tag is the part between the first `{` and the first `}` after it, when that part is
/// not empty; keys with the same tag land in the same slot, so one entry's keys (and any command
/// that names several of them) stay on one master.
public enum RedisHashSlot {
    /// Slots in a cluster.
    public static let count = 16_384

    /// The slot of `key`.
    public static func slot(for key: String) -> Int {
        slot(for: Array(key.utf8))
    }

    /// The slot of a key given as bytes (keys are binary-safe).
    public static func slot(for key: [UInt8]) -> Int {
        Int(crc16(hashed(key)) & 0x3FFF)
    }

    /// The bytes hashed for `key`: its hash tag if it has a non-empty one, else all of it.
    static func hashed(_ key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
            close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC16-XMODEM of `bytes`, as Redis computes it (`crc16.c`).
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
