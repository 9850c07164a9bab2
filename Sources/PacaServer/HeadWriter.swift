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
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` in decimal (at most 20 bytes).
    mutating func append(decimal value: Int64) {
        var magnitude = value.magnitude
        precondition(count + 20 <= base.count, "response head larger than reserved")
        if value < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        if magnitude < 10 {
            base[count] = UInt8(truncatingIfNeeded: magnitude) + UInt8(ascii: "0")
            count += 1
            return
        }
        var digits = 0
        var probe = magnitude
        while probe > 0 {
            digits += 1
            probe /= 10
        }
        var index = count + digits - 1
        while magnitude > 0 {
            base[index] = UInt8(truncatingIfNeeded: magnitude % 10) + UInt8(ascii: "0")
            magnitude /= 10
            index -= 1
        }
        count += digits
    }
}
