/// Where each string field of the line before was written in the writer's memory, in its JSON
/// form: consecutive lines repeat their method, host, route, tier and client (and, under a hot
/// URL, the URL). A field identical to the line before's is copied from those bytes instead of
/// being checked and escaped again (about 90 instructions a field, a third of a line's cost).
///
/// Identical means the same representation: the same bytes held inline (a string of up to 15
/// bytes), or the same storage with the same length. The slot holds the string it saw, so that
/// storage stays alive and cannot come back as another string at the same address. Strings that
/// are equal but stored apart are written again, byte for byte as they are.
///
/// Under one hot object the whole line repeats but for its times: the same strings, status,
/// size, outcome, ttl and key. Such a line is the timestamp, then a copy of the line before's
/// text from `"method"` to the key's hash (`middle`), its durations, then a copy of the line
/// before's text from `"client"` to its end (`tail`). See `repeatsLine`.
struct RepeatedStrings {
    /// One field's last string and its bytes in the writer's memory.
    struct Slot {
        fileprivate var held = ""
        fileprivate var bits: (UInt64, UInt64) = (0, 0)
        /// Where the quoted, escaped form starts; -1 when there is none in the current memory.
        fileprivate var offset = -1
        fileprivate var length = 0

        /// Whether `value` is the string this slot holds, and its bytes are in the current memory.
        @inline(__always)
        func holds(_ value: String) -> Bool {
            offset >= 0 && unsafeBitCast(value, to: (UInt64, UInt64).self) == bits
        }
    }

    /// A run of the line before's text in the writer's memory.
    struct Run {
        var offset = -1
        var length = 0
    }

    /// What a line holds besides its strings and its times, for `repeatsLine`: four words, so
    /// that comparing two is four comparisons (a struct of the fields as they are, with their
    /// optionals, took about fifty instructions to compare).
    struct Shape: Equatable {
        private var status: Int
        private var bytes: Int
        /// The ttl, or 0 when there is none (`flags` tells which).
        private var ttl: Int
        /// The key's hash, or 0 when there is none (`flags` tells which).
        private var keyHash: UInt64
        /// The outcome's raw value in the low byte, then one bit each for: no tier, a ttl,
        /// collapsed, a hash, background, newline.
        private var flags: UInt64

        /// The shape of `record`'s line, or `nil` when its key's hash is not at hand (the key would have to be compared, or
        /// hashed, to know the line repeats).
        @inline(__always)
        init?(_ record: UnsafePointer<AccessLogRecord>, newline: Bool) {
            guard record.pointee.keyHash != nil || record.pointee.key.isEmpty else { return nil }
            status = record.pointee.status
            bytes = record.pointee.bytes
            ttl = record.pointee.ttl ?? 0
            keyHash = record.pointee.keyHash ?? 0
            flags =
                UInt64(record.pointee.cache.code) | (record.pointee.tier.isEmpty ? 1 << 8 : 0) | (record.pointee.ttl != nil ? 1 << 9 : 0)
                | (record.pointee.collapsed ? 1 << 10 : 0) | (record.pointee.keyHash != nil ? 1 << 11 : 0)
                | (record.pointee.background ? 1 << 12 : 0) | (newline ? 1 << 13 : 0)
        }

        /// Whether the line has no tier (`null`).
        var tierIsEmpty: Bool { flags & (1 << 8) != 0 }
    }

    var method = Slot()
    var host = Slot()
    var url = Slot()
    var route = Slot()
    var tier = Slot()
    var client = Slot()

    /// The line before's shape; `nil` when it cannot be repeated.
    var shape: Shape?
    /// The line before's text from `","method":` to the end of the key's hash.
    var middle = Run()
    /// The line before's text from `,"client":` to its end.
    var tail = Run()

    /// The most bytes a line that `repeatsLine` takes: the two runs, and the timestamp, the
    /// durations and the text around them (117 bytes at most).
    var repeatedLineBound: Int { middle.length + tail.length + 128 }

    /// Whether `record`'s line is the line before's but for its timestamp and durations, with
    /// the line before's text in the current memory. A tier is compared only when there is one
    /// (an empty tier is written as `null`, its slot left as it was).
    @inline(__always)
    func repeatsLine(_ record: UnsafePointer<AccessLogRecord>, newline: Bool) -> Bool {
        guard middle.offset >= 0, let shape, let now = Shape(record, newline: newline), now == shape else {
            return false
        }
        return method.holds(record.pointee.method) && host.holds(record.pointee.host) && url.holds(record.pointee.url)
            && route.holds(record.pointee.route) && client.holds(record.pointee.client)
            && (shape.tierIsEmpty || tier.holds(record.pointee.tier))
    }

    /// The writer's memory was written out and starts over: no earlier bytes to copy.
    mutating func forget() {
        method.offset = -1
        host.offset = -1
        url.offset = -1
        route.offset = -1
        tier.offset = -1
        client.offset = -1
        middle.offset = -1
        tail.offset = -1
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

    /// A copy of the text at `run`.
    @inline(__always)
    mutating func copyWritten(_ run: RepeatedStrings.Run) {
        copyWritten(at: run.offset, count: run.length)
    }
}
