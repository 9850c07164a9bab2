import PacaCore

/// The 128-bit name of an entry's file: two independent 64-bit hashes of the full key.
/// Collisions are negligible, and the full key in the file's header is compared on every read
/// anyway.
struct FileID: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The name of `key`'s file: FNV-1a, and FNV-1a started from another offset basis.
    init(key: String) {
        high = FNV1a.hash(key)
        var second: UInt64 = 0x6c62_272e_07bb_0142  // FNV-1a from another offset basis
        for byte in key.utf8 {
            second ^= UInt64(byte)
            second = second &* 0x0000_0100_0000_01b3
        }
        // Final avalanche so the two halves do not share FNV's weak low bits.
        second ^= second >> 33
        second = second &* 0xff51_afd7_ed55_8ccd
        second ^= second >> 33
        low = second
    }

    /// 32 lower-case hex digits.
    var name: String {
        Self.hex(high) + Self.hex(low)
    }

    /// Parses a file name written by `name`; nil for anything else (temporary or foreign files).
    init?(name: String) {
        let utf8 = Array(name.utf8)
        guard utf8.count == 32 else { return nil }
        guard let high = Self.parseHex(utf8[0..<16]), let low = Self.parseHex(utf8[16..<32]) else { return nil }
        self.init(high: high, low: low)
    }

    /// `<last hex digit>/<the two before it>`, as nginx `levels=1:2` lays out its cache.
    var levelDirectories: (String, String) {
        let digits = Array(name.utf8)
        let last = String(decoding: digits[31...31], as: UTF8.self)
        let next = String(decoding: digits[29...30], as: UTF8.self)
        return (last, next)
    }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    private static func parseHex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

/// The in-memory index of L2: for each file, the full key, the bytes it occupies on disk, its
/// storage expiry, and its place in a least-recently-used list. Not thread-safe: `DiskCache`
/// guards it with its state lock. The list lives in arrays (slot indices as links), so touching
/// an entry allocates nothing.
struct DiskIndex {
    struct Record {
        var id: FileID
        var key: String
        var bytes: Int
        var expiry: UnixMillis
        var newer: Int  // towards the most recent end; -1 at the head
        var older: Int  // towards the least recent end; -1 at the tail
    }

    private var slots: [Record] = []
    private var freeSlots: [Int] = []
    private var positions: [FileID: Int] = [:]
    /// Most recently used.
    private var head = -1
    /// Least recently used.
    private var tail = -1

    /// Sum of `bytes` over all records.
    private(set) var totalBytes = 0

    var count: Int { positions.count }

    func contains(_ id: FileID) -> Bool { positions[id] != nil }

    /// The record for `id` without changing its recency.
    func peek(_ id: FileID) -> (key: String, bytes: Int, expiry: UnixMillis)? {
        guard let slot = positions[id] else { return nil }
        return (slots[slot].key, slots[slot].bytes, slots[slot].expiry)
    }

    /// Marks `id` most recently used; false when absent.
    @discardableResult
    mutating func touch(_ id: FileID) -> Bool {
        guard let slot = positions[id] else { return false }
        unlink(slot)
        linkAtHead(slot)
        return true
    }

    /// Inserts or replaces the record for `id`. New records go to the most recent end, or to
    /// the least recent end when `coldest` (files found by the start-up scan, whose recency is
    /// unknown, must not push out entries that were used since start).
    mutating func upsert(_ id: FileID, key: String, bytes: Int, expiry: UnixMillis, coldest: Bool = false) {
        if let slot = positions[id] {
            totalBytes += bytes - slots[slot].bytes
            slots[slot].key = key
            slots[slot].bytes = bytes
            slots[slot].expiry = expiry
            unlink(slot)
            linkAtHead(slot)
            return
        }
        let record = Record(id: id, key: key, bytes: bytes, expiry: expiry, newer: -1, older: -1)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = record
        } else {
            slot = slots.count
            slots.append(record)
        }
        positions[id] = slot
        totalBytes += bytes
        if coldest { linkAtTail(slot) } else { linkAtHead(slot) }
    }

    /// Removes the record for `id`; returns its size, or nil when absent.
    @discardableResult
    mutating func remove(_ id: FileID) -> Int? {
        guard let slot = positions.removeValue(forKey: id) else { return nil }
        unlink(slot)
        let bytes = slots[slot].bytes
        totalBytes -= bytes
        slots[slot].key = ""
        freeSlots.append(slot)
        return bytes
    }

    /// Removes and returns the least recently used record other than `keep`.
    mutating func removeLeastRecent(keeping keep: FileID?) -> FileID? {
        var slot = tail
        while slot != -1, slots[slot].id == keep { slot = slots[slot].newer }
        guard slot != -1 else { return nil }
        let id = slots[slot].id
        remove(id)
        return id
    }

    /// Ids of records whose storage lifetime ended at or before `now`.
    func expired(at now: UnixMillis) -> [FileID] {
        positions.compactMap { id, slot in slots[slot].expiry <= now ? id : nil }
    }

    /// Every entry's id and full key: a snapshot to match a purge's predicate against outside
    /// the lock that guards the index (a regex per key must not hold up lookups).
    var keys: [(id: FileID, key: String)] {
        positions.map { id, slot in (id, slots[slot].key) }
    }

    /// Ids from least to most recently used (for tests and diagnostics).
    var idsByRecency: [FileID] {
        var result: [FileID] = []
        var slot = tail
        while slot != -1 {
            result.append(slots[slot].id)
            slot = slots[slot].newer
        }
        return result
    }

    mutating func removeAll() {
        self = DiskIndex()
    }

    private mutating func unlink(_ slot: Int) {
        let newer = slots[slot].newer
        let older = slots[slot].older
        if newer != -1 { slots[newer].older = older } else { head = older }
        if older != -1 { slots[older].newer = newer } else { tail = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private mutating func linkAtHead(_ slot: Int) {
        slots[slot].older = head
        slots[slot].newer = -1
        if head != -1 { slots[head].newer = slot }
        head = slot
        if tail == -1 { tail = slot }
    }

    private mutating func linkAtTail(_ slot: Int) {
        slots[slot].newer = tail
        slots[slot].older = -1
        if tail != -1 { slots[tail].older = slot }
        tail = slot
        if head == -1 { head = slot }
    }
}
