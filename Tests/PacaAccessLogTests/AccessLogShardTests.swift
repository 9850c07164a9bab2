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
        let shard = AccessLogShard(capacity: 1000, wakeCount: 500)
        for index in 0..<100 { _ = shard.append(record(index)) }
        var first = shard.take().records
        #expect(first.count == 100)
        let memory = address(first)
        shard.recycle(&first)
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
        let shard = AccessLogShard(capacity: 10, wakeCount: 5)
        _ = shard.append(record(1))
        var batch = shard.take().records
        let kept = batch
        shard.recycle(&batch)
        #expect(kept.map(\.url) == ["/r1"])
    }

    @Test("the shard asks for a flush once, when it reaches its wake count, and drops beyond its capacity")
    func wakeCountAndCapacity() {
        let shard = AccessLogShard(capacity: 6, wakeCount: 4)
        let wakes = (0..<8).map { shard.append(record($0)) }
        #expect(wakes == [false, false, false, true, false, false, false, false])
        let (records, dropped) = shard.take()
        #expect(records.count == 6)
        #expect(dropped == 2)
        #expect(shard.take().dropped == 0)
    }

    @Test("a repeat shares the strings of the last record queued with its head serial and route, while that record is in the batch")
    func repeatsShareTheLastHeadsStrings() throws {
        final class Route: Sendable {}
        let shard = AccessLogShard(capacity: 8, wakeCount: 100)
        let route = Route()
        let other = Route()
        func repeatOf(_ head: UInt64, _ route: Route, keyHash: UInt64 = 0xabc) -> Bool? {
            shard.appendRepeat(
                head: head, route: ObjectIdentifier(route), timestamp: 1, status: 200, bytes: 3, cache: .hit, tier: "l1", ttl: 9,
                keyHash: keyHash, milliseconds: 0.5)
        }
        func owner(_ index: Int) -> AccessLogRecord {
            var owner = record(index)
            owner.keyHash = 0xabc
            return owner
        }
        #expect(repeatOf(7, route) == nil, "nothing queued with a head yet")
        _ = shard.append(record(0))
        #expect(repeatOf(7, route) == nil, "a record without a head")
        _ = shard.append(owner(1), head: 7, route: route)
        #expect(repeatOf(7, route) == false)
        #expect(repeatOf(8, route) == nil, "another head")
        #expect(repeatOf(7, other) == nil, "another route")
        #expect(repeatOf(7, route, keyHash: 0xdef) == nil, "another key")
        _ = shard.append(owner(3), head: 9, route: other)
        #expect(repeatOf(7, route) == false, "each head keeps its record")
        #expect(repeatOf(9, other) == false)
        let sameSlot = try #require((8...UInt64(1 << 20)).first { AccessLogShard.slot(of: $0) == AccessLogShard.slot(of: 7) })
        _ = shard.append(owner(6), head: sameSlot, route: route)
        #expect(repeatOf(7, route) == nil, "another serial took its slot")
        #expect(repeatOf(sameSlot, route) == false)
        #expect(repeatOf(sameSlot, route) == false, "dropped: the shard is full")
        let (records, dropped) = shard.take()
        #expect(dropped == 1)
        #expect(records.map(\.sharedStrings) == [-1, -1, 1, -1, 1, 3, -1, 6])
        #expect(records[2].url.isEmpty && records[2].host.isEmpty && records[2].client.isEmpty)
        #expect(records[2].tier == "l1" && records[2].ttl == 9 && records[2].keyHash == 0xabc && records[2].bytes == 3)
        var whole = owner(1)
        whole.tier = "l1"
        whole.ttl = 9
        whole.keyHash = 0xabc
        whole.bytes = 3
        whole.timestamp = 1
        whole.milliseconds = 0.5
        #expect(AccessLogRecord.ownStrings(records)[2] == whole)
        #expect(repeatOf(9, other) == nil, "the writer took the record it would share")
    }

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
