import Foundation
import PacaCore
import Testing

@testable import PacaAccessLog

private final class Route: Sendable {}

private func hit(_ url: String, keyHash: UInt64 = 0xabc, at timestamp: UnixMillis = 1) -> AccessLogRecord {
    AccessLogRecord(
        timestamp: timestamp, method: "GET", host: "h", url: url, route: "r", status: 200, bytes: 3, cache: .hit, tier: "l1", ttl: 9,
        key: "k", keyHash: keyHash, milliseconds: 0.5, client: "127.0.0.1")
}

/// Takes every pending entry of `ring`, in order, as the writer does, and hands them back.
private func takeAll(_ ring: HitRing) -> [AccessLogRecord] {
    let pending = ring.pending()
    defer { ring.release(upTo: pending.upperBound) }
    return pending.map { ring.record(of: ring.take(at: $0)) }
}

@Suite("HitRing", .timeLimit(.minutes(1)))
struct HitRingTests {
    @Test("a repeat names the owner last queued with its head serial, route and key, across any number of takes")
    func repeatsNameTheirOwner() throws {
        let ring = HitRing(capacity: 8, wakeEvery: 100)
        let route = Route()
        let other = Route()
        func repeatOf(_ head: UInt64, _ route: Route, keyHash: UInt64 = 0xabc, at timestamp: UnixMillis = 2) -> Bool? {
            ring.appendRepeat(
                head: head, route: ObjectIdentifier(route), timestamp: timestamp, status: 200, bytes: 3, cache: .hit, tier: "l1", ttl: 9,
                keyHash: keyHash, nanoseconds: 500_000)
        }
        #expect(repeatOf(7, route) == nil, "nothing queued with a head yet")
        #expect(ring.appendOwner(hit("/a"), head: 7, route: route) != nil)
        #expect(repeatOf(7, route) != nil)
        #expect(repeatOf(8, route) == nil, "another head")
        #expect(repeatOf(7, other) == nil, "another route")
        #expect(repeatOf(7, route, keyHash: 0xdef) == nil, "another key")
        #expect(repeatOf(7, route, keyHash: 0xabc) != nil)
        var taken = takeAll(ring)
        #expect(taken.map(\.url) == ["/a", "/a", "/a"])
        #expect(taken[1] == hit("/a", at: 2), "a repeat stands for the whole record")
        // The writer took the owner: its strings stay with the writer for later repeats.
        #expect(repeatOf(7, route, at: 3) != nil)
        let sameSlot = try #require((8...UInt64(1 << 20)).first { HitRing.slot(of: $0) == HitRing.slot(of: 7) })
        #expect(ring.appendOwner(hit("/b"), head: sameSlot, route: route) != nil)
        #expect(repeatOf(7, route) == nil, "another serial took its slot")
        #expect(repeatOf(sameSlot, route) != nil)
        taken = takeAll(ring)
        #expect(taken.map(\.url) == ["/a", "/b", "/b"])
        #expect(taken.map(\.timestamp) == [3, 1, 2])
    }

    @Test("a full ring queues nothing more, and a record that cannot be an owner clears its slot")
    func fullAndIneligible() {
        let ring = HitRing(capacity: 4, wakeEvery: 2)
        let route = Route()
        func repeatOf(_ head: UInt64) -> Bool? {
            ring.appendRepeat(
                head: head, route: ObjectIdentifier(route), timestamp: 2, status: 200, bytes: 3, cache: .hit, tier: "l1", ttl: 9,
                keyHash: 0xabc, nanoseconds: 1)
        }
        #expect(ring.appendOwner(hit("/a"), head: 5, route: route) == false)
        #expect(repeatOf(5) == true, "the second entry asks for a wake")
        #expect(repeatOf(5) == false)
        #expect(repeatOf(5) == true)
        #expect(repeatOf(5) == nil, "full")
        #expect(takeAll(ring).count == 4)
        #expect(repeatOf(5) != nil, "room again")
        var collapsed = hit("/a")
        collapsed.collapsed = true
        #expect(ring.appendOwner(collapsed, head: 5, route: route) == nil)
        #expect(repeatOf(5) == nil, "its head's owner is gone")
        var odd = hit("/a")
        odd.tier = "l9"
        #expect(ring.appendOwner(odd, head: 6, route: route) == nil, "a tier a hit does not have")
        #expect(ring.appendOwner(hit("/a", keyHash: 1), head: 6, route: route) != nil)
        _ = takeAll(ring)
    }

    @Test("only the first thread to ask is the ring's producer")
    func oneProducer() async {
        let ring = HitRing(capacity: 4, wakeEvery: 2)
        #expect(ring.isProducer(ThreadSlot.current))
        #expect(ring.isProducer(ThreadSlot.current))
        let elsewhere = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: ring.isProducer(ThreadSlot.current)) }.start()
        }
        #expect(!elsewhere)
    }

    @Test("a shard's records go among its ring's hits where their thread queued them")
    func recordsMergeInQueueOrder() {
        let shard = AccessLogShard(capacity: 10, wakeCount: 10, ringCapacity: 4)
        let route = Route()
        var expected: [String] = []
        _ = shard.append(hit("/first"))
        expected.append("/first")
        for index in 0..<6 {
            let url = "/hit\(index)"
            if shard.ring.appendOwner(hit(url), head: UInt64(index + 1), route: route) == nil { _ = shard.append(hit(url)) }
            expected.append(url)
            if index == 1 {
                _ = shard.append(hit("/miss"))
                expected.append("/miss")
            }
        }
        let hits = shard.ring.pending()
        #expect(hits.count == 4, "the rest went to the shard")
        let (records, positions, _) = shard.take()
        let source = AccessLogWriter.Source(shard: shard, hits: hits, records: records, positions: positions)
        #expect(source.merged().map(\.url) == expected)
        #expect(shard.ring.pending().isEmpty)
    }
}

@Suite("HitRing.Tier")
struct HitRingTierTests {
    @Test("a tier's code is the same from its bits as from comparing it, for literals and strings built at run time")
    func tierCodes() {
        let built = ["l", "1"].joined()
        for tier in ["", "l1", "l2", "l3", "l4", "L1", "x", "l1 ", built, String("l3".utf8.map { Character(UnicodeScalar($0)) })] {
            #expect(HitRing.Tier.code(tier) == HitRing.Tier.slowCode(tier), "\(tier)")
        }
        #expect(HitRing.Tier.code("l2") == 2)
        #expect(HitRing.Tier.code("") == 0)
        #expect(HitRing.Tier.code("l9") == nil)
    }
}
