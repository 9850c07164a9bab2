import CCRC32C

/// CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), the checksum iSCSI, ext4 and
/// RocksDB use. With the processor's CRC-32C instruction (SSE 4.2 on x86-64, the CRC extension
/// on arm64) when it has one — about three times faster, which matters on every L2 and L3 read;
/// otherwise table-driven, slicing-by-8: eight bytes per step through eight 256-entry tables.
///
/// `checksum(_:seed:)` follows the zlib convention: the seed is a previous result (default 0 for
/// a fresh start), so a checksum over `a + b` equals `checksum(b, seed: checksum(a))`.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// Eight tables of 256 entries, one after another: `tables[k * 256 + i]` is the CRC of byte
    /// `i` followed by `k` zero bytes.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1
            }
            tables[index] = crc
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Whether the processor computes CRC-32C itself (checked once).
    static let hardware = paca_crc32c_hardware() != 0

    /// The CRC-32C of `bytes`, continuing from `seed` (a previous result; 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard hardware, let base = bytes.baseAddress, bytes.count > 0 else { return tableChecksum(bytes, seed: seed) }
        return ~paca_crc32c_update(~seed, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// The table-driven CRC-32C, whatever the processor offers (for tests and as the fallback).
    static func tableChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        tables.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            var pointer = base
            var remaining = bytes.count
            while remaining >= 8 {
                let low = UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                crc =
                    t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                pointer += 8
                remaining -= 8
            }
            while remaining > 0 {
                crc = (crc >> 8) ^ t[Int((crc ^ UInt32(pointer.load(as: UInt8.self))) & 0xFF)]
                pointer += 1
                remaining -= 1
            }
        }
        return ~crc
    }

    /// The CRC-32C of `bytes`, continuing from `seed`.
    public static func checksum(_ bytes: some Sequence<UInt8>, seed: UInt32 = 0) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0, seed: seed) }
    }
}
