import NIOConcurrencyHelpers

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
    @exclusivity(unchecked) private var dropped = 0
    private let capacity: Int
    // Keeps two shards' locks off one cache line: each is written by a different event loop.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues a record; drops it (and counts it) when the shard is full. Returns true when this
    /// record filled the shard to half its capacity: time to flush before the interval is up.
    func append(_ record: consuming AccessLogRecord) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if records.count >= capacity {
            dropped += 1
            return false
        }
        records.append(record)
        return records.count == capacity / 2
    }

    /// Records dropped since the last take.
    var droppedCount: Int { lock.withLock { dropped } }

    /// Takes every queued record and the count dropped since the last take. The shard goes on
    /// with fresh storage sized for as many records as it just gave, reserved before the lock is
    /// taken, so its thread seldom grows an array while appending.
    func take() -> (records: [AccessLogRecord], dropped: Int) {
        var fresh: [AccessLogRecord] = []
        fresh.reserveCapacity(min(capacity, max(16, lock.withLock { records.count })))
        return lock.withLock {
            swap(&records, &fresh)
            defer { dropped = 0 }
            return (fresh, dropped)
        }
    }
}
