import PacaCore
import Synchronization
import Testing

@testable import PacaAccessLog

private func record(_ index: Int) -> AccessLogRecord {
    AccessLogRecord(
        timestamp: 1_767_225_600_000 + UnixMillis(index), method: "GET", host: "h", url: "/r\(index)", route: "", status: 200,
        bytes: 0, cache: .hit, milliseconds: 0.1, client: "127.0.0.1")
}

private func address(_ records: [AccessLogRecord]) -> UnsafeRawPointer? {
    records.withUnsafeBufferPointer { $0.baseAddress.map(UnsafeRawPointer.init) }
}

@Suite("AccessLogShard", .timeLimit(.minutes(1)))
struct AccessLogShardTests {
    @Test("a written batch handed back is the memory the shard fills after the batch it is filling, its records gone")
    func recycledMemoryIsFilledNext() {
        let shard = AccessLogShard(capacity: 1000, wakeCount: 500, ringCapacity: 8)
        for index in 0..<100 { _ = shard.append(record(index)) }
        var (first, positions, _) = shard.take()
        #expect(first.count == 100)
        let memory = address(first)
        shard.recycle(&first, positions: &positions)
        #expect(first.isEmpty)
        // The shard fills one array while the writer writes the other: the batch after next
        // goes into the recycled memory.
        for index in 100..<150 { _ = shard.append(record(index)) }
        let second = shard.take().records
        #expect(second.map(\.url) == (100..<150).map { "/r\($0)" })
        for index in 150..<160 { _ = shard.append(record(index)) }
        let third = shard.take().records
        #expect(third.map(\.url) == (150..<160).map { "/r\($0)" })
        #expect(address(third) == memory, "the recycled array was filled")
    }

    @Test("a batch still referenced elsewhere is copied, never emptied under its other holder")
    func sharedBatchIsLeftAlone() {
        let shard = AccessLogShard(capacity: 10, wakeCount: 5, ringCapacity: 8)
        _ = shard.append(record(1))
        var (batch, positions, _) = shard.take()
        let kept = batch
        shard.recycle(&batch, positions: &positions)
        #expect(kept.map(\.url) == ["/r1"])
    }

    @Test("the shard asks for a flush once, when it reaches its wake count, and drops beyond its capacity")
    func wakeCountAndCapacity() {
        let shard = AccessLogShard(capacity: 6, wakeCount: 4, ringCapacity: 8)
        let wakes = (0..<8).map { shard.append(record($0)) }
        #expect(wakes == [false, false, false, true, false, false, false, false])
        let (records, _, dropped) = shard.take()
        #expect(records.count == 6)
        #expect(dropped == 2)
        #expect(shard.take().dropped == 0)
    }

    #if os(Linux)
        @Test("the writer thread is named paca-accesslog and runs under SCHED_BATCH: its wakes do not preempt the loop that asked")
        func writerRunsAsBatch() async throws {
            let writer = try AccessLogWriter(path: nil, maxPending: 1_000_000, flushInterval: .seconds(3600))
            let (policy, name) = await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, String), Never>) in
                let resumed = Mutex(false)
                // The tap runs on the writer thread.
                writer.setTap { _ in
                    let first = resumed.withLock { resumed in
                        defer { resumed = true }
                        return !resumed
                    }
                    if first { continuation.resume(returning: (WriterThread.currentPolicy, WriterThread.currentName)) }
                }
                for index in 0..<AccessLogWriter.recordsPerWake { writer.append(record(index)) }
            }
            #expect(policy == WriterThread.batchPolicy)
            #expect(name == "paca-accesslog")
            #expect(WriterThread.currentPolicy != WriterThread.batchPolicy, "the test's own thread is left as it was")
            await writer.shutdown()
        }
    #endif

    @Test("a writer with room for many records wakes itself after recordsPerWake of them, long before its interval")
    func writerWakesAfterRecordsPerWake() async throws {
        let writer = try AccessLogWriter(path: nil, maxPending: 1_000_000, flushInterval: .seconds(3600))
        let seen = Mutex(0)
        let count = AccessLogWriter.recordsPerWake
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writer.setTap { records in
                let total = seen.withLock { total in
                    total += records.count
                    return total
                }
                if total == count { continuation.resume() }
            }
            for index in 0..<count { writer.append(record(index)) }
        }
        #expect(writer.counts.written == count)
        await writer.shutdown()
    }
}
