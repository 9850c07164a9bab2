import PacaCore
import Synchronization

/// One event loop's hits on their way to the log writer: a ring of fixed-size entries that one
/// thread (its producer, the first to queue a hit on it) fills and the writer thread empties, with
/// no lock. The producer's cost of a hit whose head it logged before is a few stores and one
/// atomic store (no lock, no string retained); the writer formats the line off the loop.
///
/// A hit is an `owner` (its record's strings go with it, in `strings`) or a `repeat` of the
/// owner last queued with its head serial (`ProxyRequest.headSerial`), route and key: the
/// writer, which empties the ring in order, keeps each owner's strings (`strings(of:)`) and
/// reads a repeat's from there. No batch boundary ends that sharing: the owner a repeat names is
/// always the one the writer saw last in that slot, since both went through the ring in order.
///
/// Nothing is dropped here: when the ring is full the caller queues the record whole in its
/// shard, which keeps the order (`AccessLogShard`, `ringPosition`).
final class HitRing: @unchecked Sendable {
    // @unchecked: the producer's fields are touched only by the producer thread, the writer's
    // only under the writer's flush lock; entries and strings pass between them through
    // `tail` (released by the producer, acquired by the writer) and `head` (the reverse).

    /// One hit, as the writer formats it: every field a line of a hit has besides its strings.
    struct Entry {
        var timestamp: UnixMillis
        /// Time to answer.
        var nanoseconds: Int64
        var bytes: Int
        var keyHash: UInt64
        /// Seconds of freshness left; `Int.min` when not known.
        var ttl: Int
        var status: Int32
        /// `AccessLogRecord.CacheOutcome.code`.
        var cache: UInt8
        /// `Tier.code`.
        var tier: UInt8
        /// The owner slot of its head serial (`HitRing.slot(of:)`).
        var slot: UInt8
        /// Whether its strings are in `strings` at its index (an owner), or are its slot's owner's.
        var isOwner: Bool
    }

    /// The strings of an owner: the same for every repeat of it.
    struct Strings {
        var method: String
        var host: String
        var url: String
        var route: String
        var key: String
        var client: String
    }

    /// The tiers a hit can have, as one byte.
    enum Tier {
        /// `tier`'s code, `nil` for a tier a hit does not have. The engine's tiers are string
        /// literals of two bytes, held in the string itself: they are told apart by those bits,
        /// with no string comparison (which cost about 45 instructions a hit).
        @inline(__always)
        static func code(_ tier: String) -> UInt8? {
            let bits = unsafeBitCast(tier, to: (UInt64, UInt64).self)
            if bits.1 == twoBytes {
                switch bits.0 {
                case 0x316C: return 1
                case 0x326C: return 2
                case 0x336C: return 3
                default: break
                }
            } else if bits == (0, empty) {
                return 0
            }
            return slowCode(tier)
        }

        /// The second word of a string of two ASCII bytes held in itself (on a 64-bit
        /// little-endian machine: the bytes in the first word, the count and flags in the top
        /// byte of the second), and of the empty string.
        private static let twoBytes: UInt64 = 0xE200_0000_0000_0000
        private static let empty: UInt64 = 0xE000_0000_0000_0000

        /// `code(_:)` for a string however it is held.
        static func slowCode(_ tier: String) -> UInt8? {
            switch tier {
            case "": 0
            case "l1": 1
            case "l2": 2
            case "l3": 3
            default: nil
            }
        }

        static func name(_ code: UInt8) -> String {
            switch code {
            case 1: "l1"
            case 2: "l2"
            case 3: "l3"
            default: ""
            }
        }
    }

    /// Slots for owners, a power of two: enough for the connections of one event loop that keep
    /// asking for one object each (a load generator's 64, a fleet of pollers) to keep theirs.
    static let ownerSlots = 1 << ownerSlotBits
    private static let ownerSlotBits = 8

    /// The owner slot of serial `head`: its top bits after a multiplication by 2^64 / φ, so that
    /// serials that differ in any bits (one connection's heads, or many connections' first
    /// heads) spread over the slots.
    @inline(__always)
    static func slot(of head: UInt64) -> Int {
        Int(truncatingIfNeeded: (head &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - ownerSlotBits))
    }

    /// An owner as the producer knows it: what a repeat must match to name it.
    private struct Owner {
        var head: UInt64 = 0
        var route: ObjectIdentifier?
        /// The route, held so that no other route can take its address while this is here.
        var holding: (any AnyObject & Sendable)?
        var keyHash: UInt64 = 0
    }

    let capacity: Int
    private let mask: Int
    /// A wake is asked for each time this many entries (a power of two) have been queued.
    private let wakeMask: Int
    private let entries: UnsafeMutablePointer<Entry>
    /// An owner's strings, at its entry's index; uninitialized everywhere else.
    private let strings: UnsafeMutablePointer<Strings>
    /// `tail`, `head` and `producer`, each on cache lines of its own.
    private let atomics: UnsafeMutablePointer<Atomic<Int>>
    private static let atomicStride = 16

    // The producer's own (besides `knownHead`, in `atomics` beside `tail`: every field of this
    // object is read by both threads, and a field one of them wrote on each hit would move the
    // object's cache line between their cores).
    private let owners: UnsafeMutablePointer<Owner>

    // The writer's own: each slot's last owner as the writer took it, its strings held until
    // another owner takes the slot (a repeat's strings are its slot's), and its position,
    // which tells two owners' lines apart.
    private let written: UnsafeMutablePointer<Strings>
    private let writtenPositions: UnsafeMutablePointer<Int>
    /// For each slot, an owner of it and the representative of an earlier owner found to have
    /// the same strings (`sameStrings`).
    private let matches: UnsafeMutablePointer<(owner: Int, equals: Int)>

    /// A ring of `capacity` entries (rounded down to a power of two, at least 2), asking for a
    /// wake every `wakeEvery` (rounded down to a power of two, at most half the capacity).
    init(capacity: Int, wakeEvery: Int) {
        let capacity = Self.powerOfTwo(atMost: max(2, capacity))
        self.capacity = capacity
        mask = capacity - 1
        wakeMask = Self.powerOfTwo(atMost: max(1, min(wakeEvery, capacity / 2))) - 1
        entries = .allocate(capacity: capacity)
        strings = .allocate(capacity: capacity)
        let atomicCount = 3 * Self.atomicStride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: atomicCount * MemoryLayout<Atomic<Int>>.stride, alignment: 128)
        atomics = raw.bindMemory(to: Atomic<Int>.self, capacity: atomicCount)
        for index in 0..<atomicCount { (atomics + index).initialize(to: Atomic(index == Self.producer ? -1 : 0)) }
        owners = .allocate(capacity: Self.ownerSlots)
        owners.initialize(repeating: Owner(), count: Self.ownerSlots)
        written = .allocate(capacity: Self.ownerSlots)
        written.initialize(
            repeating: Strings(method: "", host: "", url: "", route: "", key: "", client: ""), count: Self.ownerSlots)
        writtenPositions = .allocate(capacity: Self.ownerSlots)
        writtenPositions.initialize(repeating: -1, count: Self.ownerSlots)
        matches = .allocate(capacity: Self.ownerSlots)
        matches.initialize(repeating: (-1, -1), count: Self.ownerSlots)
    }

    deinit {
        // Owners' strings not taken by a writer.
        for position in pending() where entries[position & mask].isOwner { (strings + (position & mask)).deinitialize(count: 1) }
        entries.deallocate()
        strings.deallocate()
        owners.deinitialize(count: Self.ownerSlots)
        owners.deallocate()
        written.deinitialize(count: Self.ownerSlots)
        written.deallocate()
        writtenPositions.deallocate()
        matches.deallocate()
        atomics.deinitialize(count: 3 * Self.atomicStride)
        UnsafeMutableRawPointer(atomics).deallocate()
    }

    private static func powerOfTwo(atMost value: Int) -> Int {
        1 << (Int.bitWidth - 1 - value.leadingZeroBitCount)
    }

    /// In `atomics`: entries queued so far (written by the producer, read by the writer)…
    private static let tail = 0
    /// `head` as the producer last read it: the ring has room up to it without another look
    /// at `head`. On `tail`'s line, which only the producer writes.
    private static let knownHead = tail + 1
    /// … entries the writer has taken so far …
    private static let head = atomicStride
    /// … and the `ThreadSlot` of the producer (-1 until one claims the ring).
    private static let producer = 2 * atomicStride

    // MARK: The producer

    /// Whether the thread with `ThreadSlot` `thread` is this ring's producer; the first thread
    /// to ask becomes it. Any other thread queues its records in the shard, under its lock.
    @inline(__always)
    func isProducer(_ thread: Int) -> Bool {
        let current = atomics[Self.producer].load(ordering: .relaxed)
        if current == thread { return true }
        guard current == -1 else { return false }
        return atomics[Self.producer].compareExchange(expected: -1, desired: thread, ordering: .acquiringAndReleasing).exchanged
    }

    /// The index of the next entry, when the ring has room for it.
    @inline(__always)
    private func reserve() -> Int? {
        // The producer's own stores: relaxed loads of them are plain loads.
        let position = atomics[Self.tail].load(ordering: .relaxed)
        if position - atomics[Self.knownHead].load(ordering: .relaxed) >= capacity {
            let head = atomics[Self.head].load(ordering: .acquiring)
            atomics[Self.knownHead].store(head, ordering: .relaxed)
            if position - head >= capacity { return nil }
        }
        return position
    }

    /// Hands the entry at `position` to the writer; true when that asks for a wake.
    @inline(__always)
    private func publish(_ position: Int) -> Bool {
        atomics[Self.tail].store(position + 1, ordering: .releasing)
        return (position + 1) & wakeMask == 0
    }

    /// Entries queued so far, as any thread may read it: the position of the producer's next
    /// one, when the producer asks.
    var queuedSoFar: Int { atomics[Self.tail].load(ordering: .relaxed) }

    /// Queues `record` (a hit: not collapsed, no origin time, not a background refresh, with
    /// its key's hash and a tier of `Tier`) as the owner of head serial `head` and `route`.
    /// Returns `nil`, having queued nothing, when the record is not such a hit or the ring is
    /// full; otherwise whether to wake the writer. Producer only.
    func appendOwner(_ record: borrowing AccessLogRecord, head: UInt64, route: any AnyObject & Sendable) -> Bool? {
        let slot = Self.slot(of: head)
        guard !record.collapsed, record.originMilliseconds == nil, !record.background, let keyHash = record.keyHash,
            let tier = Tier.code(record.tier), let status = Int32(exactly: record.status),
            let nanoseconds = Self.nanoseconds(record.milliseconds), let position = reserve()
        else {
            // A later repeat must not name an owner the writer will not see.
            owners[slot] = Owner()
            return nil
        }
        entries[position & mask] = Entry(
            timestamp: record.timestamp, nanoseconds: nanoseconds, bytes: record.bytes, keyHash: keyHash, ttl: record.ttl ?? .min,
            status: status, cache: record.cache.code, tier: tier, slot: UInt8(truncatingIfNeeded: slot), isOwner: true)
        (strings + (position & mask)).initialize(
            to: Strings(
                method: record.method, host: record.host, url: record.url, route: record.route, key: record.key, client: record.client))
        owners[slot] = Owner(head: head, route: ObjectIdentifier(route), holding: route, keyHash: keyHash)
        return publish(position)
    }

    /// Queues a hit that repeats the owner of `head`, `route` and `keyHash` (its strings are the
    /// owner's). Returns `nil`, having queued nothing, when there is no such owner, the tier is
    /// not one of `Tier`, or the ring is full; otherwise whether to wake the writer. Producer only.
    @inline(__always)
    func appendRepeat(
        head: UInt64, route: ObjectIdentifier, timestamp: UnixMillis, status: Int, bytes: Int, cache: AccessLogRecord.CacheOutcome,
        tier: String, ttl: Int?, keyHash: UInt64, nanoseconds: Int64
    ) -> Bool? {
        let slot = Self.slot(of: head)
        let owner = owners + slot
        guard owner.pointee.head == head, owner.pointee.route == route, owner.pointee.keyHash == keyHash,
            let tier = Tier.code(tier), let status = Int32(exactly: status), let position = reserve()
        else { return nil }
        entries[position & mask] = Entry(
            timestamp: timestamp, nanoseconds: nanoseconds, bytes: bytes, keyHash: keyHash, ttl: ttl ?? .min, status: status,
            cache: cache.code, tier: tier, slot: UInt8(truncatingIfNeeded: slot), isOwner: false)
        return publish(position)
    }

    /// `milliseconds` in whole nanoseconds, when it is a duration a hit can take.
    static func nanoseconds(_ milliseconds: Double) -> Int64? {
        let nanoseconds = (milliseconds * 1_000_000).rounded()
        guard nanoseconds >= 0, nanoseconds < 9e18 else { return nil }
        return Int64(nanoseconds)
    }

    // MARK: The writer

    /// The entries queued and not yet taken, as positions: read by the writer (under its flush
    /// lock), which then reads each with `take(at:into:)` and hands them back with `release(upTo:)`.
    func pending() -> Range<Int> {
        atomics[Self.head].load(ordering: .relaxed)..<atomics[Self.tail].load(ordering: .acquiring)
    }

    /// The entry at `position` of `pending()`, taken in order; an owner's strings become its
    /// slot's (`strings(of:)`).
    @inline(__always)
    func take(at position: Int) -> Entry {
        let entry = entries[position & mask]
        if entry.isOwner {
            written[Int(entry.slot)] = (strings + (position & mask)).move()
            writtenPositions[Int(entry.slot)] = position
        }
        return entry
    }

    /// The position of the owner of a taken entry: equal for two entries of one owner.
    @inline(__always)
    func owner(of entry: Entry) -> Int { writtenPositions[Int(entry.slot)] }

    /// The timestamp of the entry at `position` of `pending()`, not yet taken.
    @inline(__always)
    func timestamp(at position: Int) -> UnixMillis { entries[position & mask].timestamp }

    /// Whether the entries in `range` (of `pending()`) are in the order their requests started.
    func isOrdered(_ range: Range<Int>) -> Bool {
        var previous = UnixMillis.min
        for position in range {
            let timestamp = entries[position & mask].timestamp
            if timestamp < previous { return false }
            previous = timestamp
        }
        return true
    }

    /// The record a taken entry stands for, with its owner's strings.
    func record(of entry: Entry) -> AccessLogRecord {
        let strings = written[Int(entry.slot)]
        return AccessLogRecord(
            timestamp: entry.timestamp, method: strings.method, host: strings.host, url: strings.url, route: strings.route,
            status: Int(entry.status), bytes: entry.bytes, cache: AccessLogRecord.CacheOutcome(code: entry.cache),
            tier: Tier.name(entry.tier), ttl: entry.ttl == .min ? nil : entry.ttl, key: strings.key, keyHash: entry.keyHash,
            milliseconds: AccessLogRecord.milliseconds(nanoseconds: entry.nanoseconds), client: strings.client)
    }

    /// Whether the line of a taken entry has the strings of the line of an earlier one, `before`,
    /// whose owner was at position `owner`: the same owner, or one with the same method, host,
    /// url, route and client (each connection has its owners; a hot object's lines from many
    /// connections differ in nothing else). False when `before`'s owner is no longer its slot's.
    /// Equal strings are remembered (`matches`): under 64 connections taking turns, the owners
    /// are compared with the same few lines before again and again, and strings held apart
    /// compare byte by byte. Each owner found equal to another is given that one's
    /// representative, so two owners with one representative need no comparison.
    @inline(__always)
    func sameStrings(_ entry: Entry, owner: Int, as before: Entry, owner beforeOwner: Int) -> Bool {
        if owner == beforeOwner { return true }
        let representative = self.representative(of: owner, slot: Int(entry.slot))
        let beforeRepresentative = self.representative(of: beforeOwner, slot: Int(before.slot))
        if representative == beforeRepresentative { return true }
        let slot = Int(before.slot)
        guard writtenPositions[slot] == beforeOwner else { return false }
        let a = written + slot
        let b = written + Int(entry.slot)
        guard
            a.pointee.url == b.pointee.url && a.pointee.client == b.pointee.client && a.pointee.host == b.pointee.host
                && a.pointee.method == b.pointee.method && a.pointee.route == b.pointee.route
        else { return false }
        matches[Int(entry.slot)] = (owner, beforeRepresentative)
        return true
    }

    /// The owner at `owner` (of slot `slot`) stands for the strings of the owner this returns:
    /// itself, unless it was found equal to another's.
    @inline(__always)
    private func representative(of owner: Int, slot: Int) -> Int {
        let match = matches[slot]
        return match.owner == owner ? match.equals : owner
    }

    /// Whether two entries' lines differ only in their times (their strings aside).
    @inline(__always)
    static func sameLine(_ a: Entry, _ b: Entry) -> Bool {
        a.bytes == b.bytes && a.keyHash == b.keyHash && a.ttl == b.ttl && a.status == b.status && a.cache == b.cache
            && a.tier == b.tier
    }

    /// The entries before `position` are taken: the producer may queue over them.
    func release(upTo position: Int) {
        atomics[Self.head].store(position, ordering: .releasing)
    }
}
