import NIOConcurrencyHelpers
import PacaCore

/// One thread's share of the records waiting to be written: appended to under a lock that only
/// its own thread takes (and the writer thread, every flush), bounded, and swapped out whole by
/// the writer so a flush holds the lock for a pointer swap. A hit of its ring's producer goes
/// into the ring instead (`HitRing`), without the lock; a record goes here when it is no hit,
/// or the ring is full.
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
    /// For each record, the position of the shard's ring when it was queued: where it goes
    /// among the ring's entries, which its thread queued before and after it.
    @exclusivity(unchecked) private var positions: [Int] = []
    @exclusivity(unchecked) private var sparePositions: [Int] = []
    /// The hits of the thread that produces for it (`HitRing`), queued without a lock.
    let ring: HitRing
    private let capacity: Int
    private let wakeCount: Int
    // Keeps two shards' locks off one cache line: each is written by a different event loop.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// A shard holding at most `capacity` records, asking for a flush when it holds `wakeCount`,
    /// and a ring of `ringCapacity` hits asking for one every `wakeCount` hits.
    init(capacity: Int, wakeCount: Int, ringCapacity: Int) {
        self.capacity = max(1, capacity)
        self.wakeCount = max(1, wakeCount)
        ring = HitRing(capacity: ringCapacity, wakeEvery: wakeCount)
    }

    /// Queues a record; drops it (and counts it) when the shard is full. Returns true when this
    /// record brought the shard to `wakeCount`: time to flush before the interval is up.
    func append(_ record: consuming AccessLogRecord) -> Bool {
        let position = ring.queuedSoFar
        lock.lock()
        defer { lock.unlock() }
        if records.count >= capacity {
            dropped += 1
            return false
        }
        records.append(record)
        positions.append(position)
        return records.count == wakeCount
    }

    /// Records dropped since the last take.
    var droppedCount: Int { lock.withLock { dropped } }

    /// Takes every queued record, the ring's position when each was queued, and the count
    /// dropped since the last take. The shard goes on filling the spare arrays, if the writer
    /// has handed them back (`recycle`).
    func take() -> (records: [AccessLogRecord], positions: [Int], dropped: Int) {
        lock.lock()
        defer { lock.unlock() }
        var taken: [AccessLogRecord] = []
        swap(&taken, &spare)
        swap(&taken, &records)
        var takenPositions: [Int] = []
        swap(&takenPositions, &sparePositions)
        swap(&takenPositions, &positions)
        defer { dropped = 0 }
        return (taken, takenPositions, dropped)
    }

    /// Hands a written batch back: emptied (outside the lock), it keeps its memory and becomes
    /// the spare, unless the spare already has as much room. Memory the cache still holds is
    /// then what the loop writes its next records into, rather than a fresh allocation.
    func recycle(_ batch: inout [AccessLogRecord], positions batchPositions: inout [Int]) {
        batch.removeAll(keepingCapacity: true)
        batchPositions.removeAll(keepingCapacity: true)
        guard batch.capacity <= capacity else { return }
        lock.lock()
        defer { lock.unlock() }
        if spare.capacity < batch.capacity {
            swap(&spare, &batch)
            swap(&sparePositions, &batchPositions)
        }
    }
}
