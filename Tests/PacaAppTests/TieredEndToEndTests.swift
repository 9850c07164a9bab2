import Foundation
import NIOCore
import PacaCore
import PacaStorage
import PacaTestSupport
import Testing

/// L2 under L1 through the real proxy: persistence across restarts, promotion, corruption.
@Suite("Tiers end to end", .timeLimit(.minutes(1)))
struct TieredEndToEndTests {
    static let config = catchAll(#", "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2", "max_bytes": "64MB" } }"#)

    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("ETag", "\"e\"")], body: "body of \(seen.uri)")
        }
    }

    @Test("the running application sweeps expired L2 entries once per sweep interval")
    func expirySweepRuns() async throws {
        let sweepClock = ManualClock()
        let harness = try await ProxyHarness.start(origin: nil, config: Self.config, sweepClock: sweepClock)
        let disk = try #require(harness.app.cache.lowerTiers.first as? DiskCache)
        await disk.waitForIndex()
        let now = harness.clock.now()
        for (key, lifetime) in [("v1|short", Int64(1000)), ("v1|long", Int64(3_600_000))] {
            await disk.set(
                CacheEntry(
                    key: key, status: 200, headers: [], body: ByteBuffer(string: key),
                    timing: EntryTiming(
                        requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: lifetime,
                        storageExpiry: now + lifetime)))
        }
        #expect(await disk.statistics().entries == 2)

        // The sweep started with the application and waits for its interval.
        await sweepClock.waitForSleeper()
        harness.clock.advance(by: .seconds(2))
        #expect(await disk.statistics().entries == 2, "nothing is swept before the interval")
        sweepClock.advance(by: disk.sweepInterval)
        // It sleeps again only once the sweep has finished.
        await sweepClock.waitForSleeper()
        #expect(await disk.statistics().entries == 1)
        #expect(!FileManager.default.fileExists(atPath: disk.filePath(for: "v1|short")))
        #expect(FileManager.default.fileExists(atPath: disk.filePath(for: "v1|long")))
        // Shutdown cancels the sweep (it would hang on the manual clock otherwise).
        await harness.shutdown()
    }

    @Test("an entry survives a restart as an l2 hit, and is promoted to l1 on that hit")
    func restartPersistence() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let first = try await ProxyHarness.start(origin: origin, config: Self.config)
        #expect(try await first.get("/persist").cacheStatus.contains("stored"))
        await first.app.cache.flushWrites()
        let directory = first.directory
        await first.shutdown(keepDirectory: true)

        let second = try await ProxyHarness.start(origin: origin, config: Self.config, directory: directory)
        defer { Task { await second.shutdown() } }
        let fromDisk = try await second.get("/persist")
        #expect(fromDisk.body == "body of /persist")
        #expect(fromDisk.cacheStatus.hasPrefix("paca; hit;"))
        #expect(fromDisk.cacheStatus.hasSuffix("detail=l2"))
        let promoted = try await second.get("/persist")
        #expect(promoted.cacheStatus.hasSuffix("detail=l1"))
        #expect(origin.requestCount == 1)
    }

    @Test("a truncated L2 file is never served: the request goes to the origin")
    func truncatedFile() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let first = try await ProxyHarness.start(origin: origin, config: Self.config)
        _ = try await first.get("/t")
        await first.app.cache.flushWrites()
        let directory = first.directory
        await first.shutdown(keepDirectory: true)

        var truncated = 0
        let root = directory + "/l2"
        let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        for file in files where !file.hasPrefix("tmp") {
            var isDirectory: ObjCBool = false
            let path = root + "/" + file
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: size / 2)
            try handle.close()
            truncated += 1
        }
        #expect(truncated == 1)

        let second = try await ProxyHarness.start(origin: origin, config: Self.config, directory: directory)
        defer { Task { await second.shutdown() } }
        let response = try await second.get("/t")
        #expect(response.body == "body of /t")
        #expect(response.cacheStatus.hasPrefix("paca; fwd=uri-miss"))
        #expect(origin.requestCount == 2)
    }

    @Test("entries pushed out of a small L1 are still served, from L2; L1 never exceeds its budget")
    func evictionToDisk() async throws {
        let big = String(repeating: "x", count: 60_000)
        let origin = try await TestOrigin { seen in TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: seen.uri + big) }
        defer { Task { await origin.shutdown() } }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(#", "storage": { "l1": { "max_bytes": "1MB", "policy": "lru" }, "l2": { "path": "l2" } }"#))
        defer { Task { await proxy.shutdown() } }

        for index in 0..<40 { _ = try await proxy.get("/e\(index)") }
        await proxy.app.cache.flushWrites()
        let memory = proxy.app.memory.statistics()
        #expect(memory.bytes <= proxy.app.memory.maxBytes)
        #expect(memory.evictions > 0)
        let early = try await proxy.get("/e0")
        #expect(early.body.hasPrefix("/e0"))
        #expect(early.cacheStatus.hasSuffix("detail=l2"))
        #expect(origin.requestCount == 40)
    }

    @Test("a fill refused by L1's admission is stored in L2 only (stored; detail=cold) and later served as an l2 hit")
    func admissionRefusalGoesToL2() async throws {
        let body = String(repeating: "c", count: 20_000)
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: body) }
        defer { Task { await origin.shutdown() } }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(#", "storage": { "l1": { "max_bytes": "1MB" }, "l2": { "path": "l2" } }"#))
        defer { Task { await proxy.shutdown() } }

        // L1 (W-TinyLFU, one shard) filled with 16 KB entries looked up 6 times each until
        // admission refuses one: less than one such entry's room is left, and a new key, looked
        // up once, loses to all of them. A 20 KB answer (larger than the 10 KB window, a 32 KB
        // buffer) needs an eviction, so admission judges it as it is stored, and refuses it.
        let memory = proxy.app.memory
        let now = proxy.clock.now()
        var full = false
        for index in 0..<100 where !full {
            let key = "hot-\(index)"
            for _ in 0..<6 { _ = memory.get(key, now: now) }
            let timing = EntryTiming(
                requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 3_600_000,
                storageExpiry: now + 3_600_000)
            let entry = CacheEntry(
                key: key, status: 200, headers: [], body: ByteBuffer(string: String(repeating: "h", count: 16_000)), timing: timing)
            full = memory.insert(entry) == .rejected
        }
        #expect(full, "admission refused a hot entry: L1 is full")

        let fill = try await proxy.get("/cold")
        #expect(fill.body == body)
        // The origin's Date is in whole seconds, so the age may be a second and the ttl 599.
        let prefix = "paca; fwd=uri-miss; fwd-status=200; stored; ttl="
        let suffix = "; detail=cold"
        #expect(fill.cacheStatus.hasPrefix(prefix) && fill.cacheStatus.hasSuffix(suffix), "\(fill.cacheStatus)")
        let ttl = Int(fill.cacheStatus.dropFirst(prefix.count).dropLast(suffix.count)) ?? 0
        #expect((599...600).contains(ttl), "\(fill.cacheStatus)")
        await proxy.app.cache.flushWrites()
        let hit = try await proxy.get("/cold")
        #expect(hit.body == body)
        #expect(hit.cacheStatus.hasPrefix("paca; hit; ttl="), "\(hit.cacheStatus)")
        #expect(hit.cacheStatus.hasSuffix("; detail=l2"), "\(hit.cacheStatus)")
        #expect(origin.requestCount == 1)
    }
}
