import NIOConcurrencyHelpers
import PacaCore

/// One thread's share of the records waiting to be written: appended to under a lock that only
/// its own thread takes (and the writer thread, every flush), bounded, and swapped out whole by
/// the writer so a flush holds the lock for a pointer swap.
///
/// The lock is taken and released around the append, not through a closure: a record passed
/// into a closure is copied (a retain and a release of each of its strings, atomic operations
/// on the event loop's path) or moved through an `Optional`, and either cost more than the
/// append itself.
final class AccessLogShard: @unchecked Sendable {
    private let lock = NIOLock()
    // Guarded by `lock`, which also rules out overlapping access: the runtime's exclusivity
    // check (a thread-local lookup per access) is left out.
    @exclusivity(unchecked) private var records: [AccessLogRecord] = []
    /// An emptied batch handed back by the writer: its memory is what `records` fills next.
    @exclusivity(unchecked) private var spare: [AccessLogRecord] = []
    @exclusivity(unchecked) private var dropped = 0
    /// The records repeats share strings with (`appendRepeat`), by head serial: `ownerSlots`
    /// of them, each the last record queued with a serial that falls in its slot.
    private let owners: UnsafeMutablePointer<Owner>
    /// The batch being filled, counted from 1: an owner of an earlier one is gone with it.
    @exclusivity(unchecked) private var batch = 1
    private let capacity: Int
    private let wakeCount: Int
    // Keeps two shards' locks off one cache line: each is written by a different event loop.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// A shard holding at most `capacity` records, asking for a flush when it holds `wakeCount`.
    init(capacity: Int, wakeCount: Int) {
        self.capacity = max(1, capacity)
        self.wakeCount = max(1, wakeCount)
        owners = .allocate(capacity: Self.ownerSlots)
        owners.initialize(repeating: Owner(), count: Self.ownerSlots)
    }

    deinit {
        owners.deinitialize(count: Self.ownerSlots)
        owners.deallocate()
    }

    /// Slots for owners, a power of two: enough for the connections of one event loop that keep
    /// asking for one object each (a load generator's 64, a fleet of pollers) to keep theirs
    /// through a batch, most of the time.
    static let ownerSlots = 1 << ownerSlotBits
    private static let ownerSlotBits = 8

    /// The owner slot of serial `head`: its top bits after a multiplication by 2^64 / φ, so that
    /// serials that differ in any bits (one connection's heads, or many connections' first
    /// heads) spread over the slots.
    @inline(__always)
    static func slot(of head: UInt64) -> Int {
        Int(truncatingIfNeeded: (head &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - ownerSlotBits))
    }

    /// A record queued with a head serial, that later records of that head and route can share
    /// strings with.
    private struct Owner {
        var head: UInt64 = 0
        var route: ObjectIdentifier?
        /// The route, held so that no other route can take its address while this is here.
        var holding: (any AnyObject & Sendable)?
        /// The record's key hash: a repeat must log the same key (the tap shows it whole).
        var keyHash: UInt64?
        /// Where the record is in `records`.
        var index = 0
        var batch = 0
    }

    /// Queues a record; drops it (and counts it) when the shard is full. Returns true when this
    /// record brought the shard to `wakeCount`: time to flush before the interval is up.
    ///
    /// With a `head` serial (`ProxyRequest.headSerial`, nonzero) and the `route` that answered,
    /// the record is the one the next records of that head and route share their strings with
    /// (`appendRepeat`), until the writer takes the batch or another serial takes its slot.
    func append(_ record: consuming AccessLogRecord, head: UInt64 = 0, route: (any AnyObject & Sendable)? = nil) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if records.count >= capacity {
            dropped += 1
            return false
        }
        if head != 0, let route {
            owners[Self.slot(of: head)] = Owner(
                head: head, route: ObjectIdentifier(route), holding: route, keyHash: record.keyHash, index: records.count,
                batch: batch)
        }
        records.append(record)
        return records.count == wakeCount
    }

    /// Queues a record of the given fields that shares its method, host, url, route, key and
    /// client with the record last queued with the same `head` serial, `route` and `keyHash`
    /// (its own are empty): no string is retained on the event loop, nor released on the
    /// writer's thread. Returns `nil`, having queued nothing, when there is no such record in
    /// the batch being filled (or another serial has taken its slot since); otherwise as
    /// `append` (a repeat the full shard drops returns false and is counted).
    func appendRepeat(
        head: UInt64, route: ObjectIdentifier, timestamp: UnixMillis, status: Int, bytes: Int, cache: AccessLogRecord.CacheOutcome,
        tier: String, ttl: Int?, keyHash: UInt64, milliseconds: Double
    ) -> Bool? {
        lock.lock()
        defer { lock.unlock() }
        let owner = owners + Self.slot(of: head)
        guard owner.pointee.head == head, owner.pointee.batch == batch, owner.pointee.route == route,
            owner.pointee.keyHash == keyHash
        else { return nil }
        let index = owner.pointee.index
        if records.count >= capacity {
            dropped += 1
            return false
        }
        records.append(
            AccessLogRecord(
                sharing: index, timestamp: timestamp, status: status, bytes: bytes, cache: cache, tier: tier, ttl: ttl,
                keyHash: keyHash, milliseconds: milliseconds))
        return records.count == wakeCount
    }

    /// Records dropped since the last take.
    var droppedCount: Int { lock.withLock { dropped } }

    /// Takes every queued record and the count dropped since the last take. The shard goes on
    /// filling the spare array, if the writer has handed one back (`recycle`).
    func take() -> (records: [AccessLogRecord], dropped: Int) {
        lock.lock()
        defer { lock.unlock() }
        var taken: [AccessLogRecord] = []
        swap(&taken, &spare)
        swap(&taken, &records)
        // The records repeats would share strings with have gone with the batch.
        batch += 1
        defer { dropped = 0 }
        return (taken, dropped)
    }

    /// Hands a written batch back: emptied (outside the lock), it keeps its memory and becomes
    /// the spare, unless the spare already has as much room. Memory the cache still holds is
    /// then what the loop writes its next records into, rather than a fresh allocation.
    func recycle(_ batch: inout [AccessLogRecord]) {
        batch.removeAll(keepingCapacity: true)
        guard batch.capacity <= capacity else { return }
        lock.lock()
        defer { lock.unlock() }
        if spare.capacity < batch.capacity { swap(&spare, &batch) }
    }
}
