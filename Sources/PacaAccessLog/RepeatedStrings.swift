/// Where each string field of the line before was written in the writer's memory, in its JSON
/// form: consecutive lines repeat their method, host, route, tier and client (and, under a hot
/// URL, the URL). A field identical to the line before's is copied from those bytes instead of
/// being checked and escaped again (about 90 instructions a field, a third of a line's cost).
///
/// Identical means the same representation: the same bytes held inline (a string of up to 15
/// bytes), or the same storage with the same length. The slot holds the string it saw, so that
/// storage stays alive and cannot come back as another string at the same address. Strings that
/// are equal but stored apart are written again, byte for byte as they are.
struct RepeatedStrings {
    /// One field's last string and its bytes in the writer's memory.
    struct Slot {
        fileprivate var held = ""
        fileprivate var bits: (UInt64, UInt64) = (0, 0)
        /// Where the quoted, escaped form starts; -1 when there is none in the current memory.
        fileprivate var offset = -1
        fileprivate var length = 0
    }

    var method = Slot()
    var host = Slot()
    var url = Slot()
    var route = Slot()
    var tier = Slot()
    var client = Slot()

    /// The writer's memory was written out and starts over: no earlier bytes to copy.
    mutating func forget() {
        method.offset = -1
        host.offset = -1
        url.offset = -1
        route.offset = -1
        tier.offset = -1
        client.offset = -1
    }
}

extension JSONLineWriter {
    /// `value` as a JSON string, as `string(_:)` writes it, or a copy of the bytes written for it
    /// on the line before when it is the same string (`RepeatedStrings`).
    @inline(__always)
    mutating func string(_ value: String, repeating slot: inout RepeatedStrings.Slot) {
        precondition(MemoryLayout<String>.size == MemoryLayout<(UInt64, UInt64)>.size)
        let bits = unsafeBitCast(value, to: (UInt64, UInt64).self)
        if slot.offset >= 0, bits == slot.bits {
            copyWritten(at: slot.offset, count: slot.length)
            return
        }
        let start = count
        string(value)
        slot = RepeatedStrings.Slot(held: value, bits: bits, offset: start, length: count - start)
    }
}
