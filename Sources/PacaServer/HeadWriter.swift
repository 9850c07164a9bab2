import PacaCore

/// Writes a response head into memory reserved for it in one pass: the caller reserves an upper
/// bound of the bytes (`ByteBuffer.writeWithUnsafeMutableBytes`), so the whole head is one access
/// to the buffer instead of one bounds check, uniqueness check and exclusivity check per field
/// piece (about fifteen on a hit). Every append checks that it stays within the reserved bytes.
struct HeadWriter {
    private let base: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    private(set) var count = 0

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let length = bytes.count
        guard length > 0 else { return }
        precondition(count + length <= base.count, "response head larger than reserved")
        (base.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: length)
        count += length
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    mutating func append(_ text: String) {
        // In place when the bytes are contiguous (always, for a native string): a mutable copy
        // for `withUTF8` costs a retain and a release.
        if text.utf8.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) != nil { return }
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` in decimal (at most 20 bytes).
    mutating func append(decimal value: Int64) {
        precondition(count + 20 <= base.count, "response head larger than reserved")
        if value < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        let target = base.baseAddress!.assumingMemoryBound(to: UInt8.self) + count
        count += DecimalDigits.write(value.magnitude, to: target)
    }
}
