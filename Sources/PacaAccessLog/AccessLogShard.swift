import Synchronization

/// One thread's share of the records waiting to be written: appended to under a lock that only
/// its own thread takes (and the writer thread, every flush), bounded, and swapped out whole by
/// the writer so a flush holds the lock for a pointer swap.
final class AccessLogShard: Sendable {
    private struct Pending {
        var records: [AccessLogRecord] = []
        var dropped = 0
    }

    private let pending = Mutex(Pending())
    private let capacity: Int
    // Keeps two shards' locks off one cache line: each is written by a different event loop.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues a record; drops it (and counts it) when the shard is full. Returns true when this
    /// record filled the shard to half its capacity: time to flush before the interval is up.
    func append(_ record: consuming AccessLogRecord) -> Bool {
        // Moved into the shard, not copied: a copy would retain and later release each of the
        // record's strings, atomic operations on the event loop's path.
        var moving = Optional(record)
        return pending.withLock { pending in
            if pending.records.count >= capacity {
                pending.dropped += 1
                return false
            }
            pending.records.append(moving.take()!)
            return pending.records.count == capacity / 2
        }
    }

    /// Records dropped since the last take.
    var dropped: Int { pending.withLock { $0.dropped } }

    /// Takes every queued record and the count dropped since the last take. The shard goes on
    /// with fresh storage sized for as many records as it just gave, reserved before the lock is
    /// taken, so its thread seldom grows an array while appending.
    func take() -> (records: [AccessLogRecord], dropped: Int) {
        var fresh: [AccessLogRecord] = []
        fresh.reserveCapacity(min(capacity, max(16, pending.withLock { $0.records.count })))
        return pending.withLock { pending in
            swap(&pending.records, &fresh)
            defer { pending.dropped = 0 }
            return (fresh, pending.dropped)
        }
    }
}
