import NIOCore
import NIOPosix
import PacaCore
import PacaHTTPCaching
import PacaStorage
import PacaTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// 2026-01-01T00:00:00Z.
private let t0: UnixMillis = 1_767_225_600_000

private func makeEntry(_ key: String, body: ByteBuffer, expiresAt: UnixMillis = t0 + 3_600_000) -> CacheEntry {
    let timing = EntryTiming(
        requestTime: t0 - 5, responseTime: t0, correctedInitialAge: 0, freshnessLifetime: 60_000, staleIfError: 300_000,
        storageExpiry: expiresAt)
    return CacheEntry(
        key: key, status: 200, headers: [HTTPField(name: "Content-Type", value: "text/plain")], body: body, timing: timing,
        etag: "\"v1\"")
}

private func makeEntry(_ key: String, bodyBytes: Int = 500, expiresAt: UnixMillis = t0 + 3_600_000) -> CacheEntry {
    var body = ByteBufferAllocator().buffer(capacity: bodyBytes)
    for index in 0..<bodyBytes { body.writeInteger(UInt8(truncatingIfNeeded: index &* 7 &+ key.utf8.count)) }
    return makeEntry(key, body: body, expiresAt: expiresAt)
}

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
private struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/paca-l2-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func cleanup() {
        Self.removeTree(path)
    }

    private static func removeTree(_ path: String) {
        if let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != ".", name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

private func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

private func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}

private func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
}

private func cache(
    _ directory: TemporaryDirectory, maxBytes: Int = 1 << 26, maxEntryBytes: Int? = nil, clock: ManualWallClock = ManualWallClock(start: t0)
) throws -> DiskCache {
    try DiskCache(directory: directory.path, maxBytes: maxBytes, maxEntryBytes: maxEntryBytes, clock: clock, threads: 2)
}

@Suite("DiskCache")
struct DiskCacheTests {
    @Test("set then get returns the same entry; an unknown key is a miss")
    func roundTrip() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        let entry = makeEntry("v1|http://o|/a|f")
        await l2.set(entry)
        let found = try #require(await l2.get(entry.key, now: t0))
        #expect(found.key == entry.key)
        #expect(found.status == 200)
        #expect(found.headers == entry.headers)
        #expect(found.body == entry.body)
        #expect(found.timing == entry.timing)
        #expect(found.etag == "\"v1\"")
        #expect(fileExists(l2.filePath(for: entry.key)))
        #expect(await l2.get("v1|http://o|/missing|f", now: t0) == nil)
        await l2.remove(entry.key)
        #expect(await l2.get(entry.key, now: t0) == nil)
        #expect(!fileExists(l2.filePath(for: entry.key)))
        let stats = await l2.statistics()
        #expect(stats.name == "l2")
        #expect(stats.hits == 1)
        #expect(stats.misses == 2)
        #expect(stats.entries == 0)
        #expect(stats.p99Micros >= stats.p50Micros)
        await l2.shutdown()
    }

    @Test("get(_:now:on:) answers through a future on the caller's event loop")
    func eventLoopGet() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let l2 = try cache(directory)
        await l2.waitForIndex()
        let entry = makeEntry("v1|http://o|/loop|f", bodyBytes: 20_000)
        await l2.set(entry)
        let found = try await l2.get(entry.key, now: t0, on: loop).map { ($0, loop.inEventLoop) }.get()
        #expect(found.0?.body == entry.body)
        #expect(found.1)
        #expect(try await l2.get("v1|http://o|/none|f", now: t0, on: loop).get() == nil)
        #expect(try await l2.get(entry.key, now: t0 + 4_000_000, on: loop).get() == nil)
        let stats = await l2.statistics()
        #expect(stats.hits == 1)
        #expect(stats.misses == 2)
        await l2.shutdown()
        try await group.shutdownGracefully()
    }

    @Test("a new cache on the same directory serves old entries, before and after its scan")
    func restartPersistence() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let first = try cache(directory)
        let keys = (0..<20).map { "v1|http://o|/p/\($0)|f" }
        for key in keys { await first.set(makeEntry(key)) }
        await first.shutdown()

        let second = try cache(directory)
        // Possibly before the scan reaches it: found on demand by its hashed path.
        #expect(await second.get(keys[7], now: t0)?.body == makeEntry(keys[7]).body)
        await second.waitForIndex()
        let stats = await second.statistics()
        #expect(stats.entries == 20)
        #expect(stats.bytes > 0)
        for key in keys { #expect(await second.get(key, now: t0)?.key == key) }
        await second.shutdown()
    }

    @Test("a leftover temporary file is removed at start")
    func cleansTemporaryDirectory() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = mkdir(directory.path + "/tmp", 0o755)
        writeFile(directory.path + "/tmp/half-written", [1, 2, 3])
        let l2 = try cache(directory)
        #expect(!fileExists(directory.path + "/tmp/half-written"))
        await l2.shutdown()
    }

    @Test("a truncated file is not served, is removed and counted as corrupt")
    func truncatedFile() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        let entry = makeEntry("v1|http://o|/t|f", bodyBytes: 2_000)
        await l2.set(entry)
        let path = l2.filePath(for: entry.key)
        let bytes = readFile(path)
        writeFile(path, Array(bytes[0..<(bytes.count / 2)]))
        #expect(await l2.get(entry.key, now: t0) == nil)
        #expect(!fileExists(path))
        let stats = await l2.statistics()
        #expect(stats.corrupt == 1)
        #expect(stats.entries == 0)
        await l2.shutdown()
    }

    @Test("a file with one flipped byte is not served", arguments: [30, 200, 1_500])
    func flippedByte(offset: Int) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        let entry = makeEntry("v1|http://o|/flip|f", bodyBytes: 2_000)
        await l2.set(entry)
        let path = l2.filePath(for: entry.key)
        var bytes = readFile(path)
        bytes[offset] ^= 0x10
        writeFile(path, bytes)
        #expect(await l2.get(entry.key, now: t0) == nil)
        #expect(await l2.statistics().corrupt == 1)
        await l2.shutdown()
    }

    @Test("damage is also caught after a restart, by the scan or the read")
    func damageAfterRestart() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let first = try cache(directory)
        let entry = makeEntry("v1|http://o|/r|f", bodyBytes: 2_000)
        await first.set(entry)
        await first.shutdown()
        let path = first.filePath(for: entry.key)
        var bytes = readFile(path)
        bytes[bytes.count - 10] ^= 0xFF
        writeFile(path, bytes)

        let second = try cache(directory)
        #expect(await second.get(entry.key, now: t0) == nil)
        await second.waitForIndex()
        #expect(await second.get(entry.key, now: t0) == nil)
        #expect(!fileExists(path))
        await second.shutdown()
    }

    @Test("another key's valid entry under this key's file name is not served (collision)")
    func wrongKeyFile() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        let a = makeEntry("v1|http://o|/A|f")
        let b = makeEntry("v1|http://o|/B|f")
        await l2.set(a)
        await l2.set(b)
        writeFile(l2.filePath(for: b.key), readFile(l2.filePath(for: a.key)))
        #expect(await l2.get(b.key, now: t0) == nil)
        #expect(await l2.get(a.key, now: t0)?.key == a.key)
        await l2.shutdown()

        // After a restart the misplaced file is found by the scan and dropped.
        let again = try cache(directory)
        #expect(await again.get(b.key, now: t0) == nil)
        await again.waitForIndex()
        #expect(await again.get(b.key, now: t0) == nil)
        #expect(await again.get(a.key, now: t0)?.key == a.key)
        #expect(await again.statistics().entries == 1)
        await again.shutdown()
    }

    @Test("bytes stay within maxBytes and the least recently used entry goes first")
    func budgetAndLRU() async throws {
        // One entry's allocated size on this file system.
        let probeDirectory = TemporaryDirectory()
        defer { probeDirectory.cleanup() }
        let probe = try cache(probeDirectory)
        await probe.set(makeEntry("v1|http://o|/k0|f"))
        let perEntry = await probe.statistics().bytes
        await probe.shutdown()
        #expect(perEntry > 0)

        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory, maxBytes: 8 * perEntry)
        await l2.waitForIndex()
        let keys = (0..<9).map { "v1|http://o|/k\($0)|f" }
        for key in keys[0..<8] { await l2.set(makeEntry(key)) }
        #expect(await l2.statistics().evictions == 0)
        #expect(await l2.get(keys[0], now: t0) != nil)  // k0 is now the most recent
        await l2.set(makeEntry(keys[8]))
        #expect(await l2.get(keys[1], now: t0) == nil)
        #expect(!fileExists(l2.filePath(for: keys[1])))
        #expect(await l2.get(keys[0], now: t0) != nil)
        #expect(await l2.get(keys[8], now: t0) != nil)

        for index in 0..<60 { await l2.set(makeEntry("v1|http://o|/many/\(index)|f")) }
        let stats = await l2.statistics()
        #expect(stats.bytes <= 8 * perEntry)
        #expect(stats.entries == 8)
        #expect(stats.evictions == 1 + 60)
        await l2.shutdown()
    }

    @Test("an entry larger than maxEntryBytes is not written")
    func oversizedEntry() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory, maxBytes: 1 << 20, maxEntryBytes: 1_000)
        await l2.waitForIndex()
        await l2.set(makeEntry("v1|http://o|/big|f", bodyBytes: 5_000))
        #expect(await l2.get("v1|http://o|/big|f", now: t0) == nil)
        #expect(await l2.statistics().entries == 0)
        await l2.shutdown()
    }

    @Test("expired entries are swept, never served, and not written")
    func expiry() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let clock = ManualWallClock(start: t0)
        let l2 = try cache(directory, clock: clock)
        await l2.waitForIndex()
        await l2.set(makeEntry("short", expiresAt: t0 + 1_000))
        await l2.set(makeEntry("long", expiresAt: t0 + 10_000))
        await l2.set(makeEntry("already", expiresAt: t0))
        #expect(await l2.statistics().entries == 2)
        #expect(await l2.get("short", now: t0 + 500) != nil)
        #expect(await l2.removeExpired(now: t0 + 5_000) == 1)
        #expect(!fileExists(l2.filePath(for: "short")))
        #expect(await l2.get("short", now: t0 + 500) == nil)
        #expect(await l2.get("long", now: t0 + 5_000) != nil)
        #expect(await l2.get("long", now: t0 + 10_000) == nil)
        #expect(await l2.statistics().entries == 0)
        await l2.shutdown()

        // A restart after the lifetime ended drops the file in the scan.
        clock.set(t0 + 20_000)
        let again = try cache(directory, clock: clock)
        await again.waitForIndex()
        #expect(await again.statistics().entries == 0)
        await again.shutdown()
    }

    @Test("run() sweeps expired entries once per sweepInterval of its clock")
    func periodicSweep() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let wall = ManualWallClock(start: t0)
        let sweepClock = ManualClock()
        let l2 = try DiskCache(
            directory: directory.path, sweepInterval: .seconds(60), clock: wall, sweepClock: sweepClock, threads: 2)
        await l2.waitForIndex()
        await l2.set(makeEntry("short", expiresAt: t0 + 30_000))
        await l2.set(makeEntry("long", expiresAt: t0 + 90_000))
        let runner = Task { await l2.run() }

        await sweepClock.waitForSleeper()
        wall.advance(by: .seconds(59))
        sweepClock.advance(by: .seconds(59))
        #expect(await l2.statistics().entries == 2)
        wall.advance(by: .seconds(1))
        sweepClock.advance(by: .seconds(1))
        // The loop sleeps again only after its sweep has finished.
        await sweepClock.waitForSleeper()
        #expect(await l2.statistics().entries == 1)
        #expect(!fileExists(l2.filePath(for: "short")))

        wall.advance(by: .seconds(60))
        sweepClock.advance(by: .seconds(60))
        await sweepClock.waitForSleeper()
        #expect(await l2.statistics().entries == 0)

        runner.cancel()
        await runner.value
        await l2.shutdown()
    }

    @Test("a large compressible body is stored gzipped: get inflates, getStored returns gzip")
    func compressedBody() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        var text = ByteBuffer()
        for index in 0..<4_000 { text.writeString("{\"id\":\(index),\"name\":\"user \(index)\"}\n") }
        let entry = makeEntry("v1|http://o|/json|f", body: text)
        await l2.set(entry)

        let found = try #require(await l2.get(entry.key, now: t0))
        #expect(found.body == text)
        #expect(found.headers == entry.headers)
        let stored = try #require(await l2.getStored(entry.key, now: t0))
        #expect(stored.bodyEncoding == .gzip)
        #expect(stored.entry.body.readableBytes < text.readableBytes / 4)
        #expect(stored.entry.body.getBytes(at: stored.entry.body.readerIndex, length: 2) == [0x1F, 0x8B])

        // Incompressible and small bodies stay identity.
        var random = SystemRandomNumberGenerator()
        let noise = ByteBuffer(bytes: (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &random) })
        await l2.set(makeEntry("noise", body: noise))
        #expect(await l2.getStored("noise", now: t0)?.bodyEncoding == .identity)
        #expect(await l2.get("noise", now: t0)?.body == noise)
        await l2.set(makeEntry("small", bodyBytes: 100))
        #expect(await l2.getStored("small", now: t0)?.bodyEncoding == .identity)
        await l2.shutdown()
    }

    @Test("removeAll(where:) matches full keys, including files the scan has not reached yet")
    func removeAllWhere() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let first = try cache(directory)
        let keys = (0..<30).map { "v1|http://o|/\($0 % 3 == 0 ? "a" : "b")/\($0)|f" }
        for key in keys { await first.set(makeEntry(key)) }
        await first.shutdown()

        let second = try cache(directory)
        let removed = await second.removeAll(where: { $0.contains("/a/") })
        #expect(removed == 10)
        for key in keys {
            let present = await second.get(key, now: t0) != nil
            #expect(present == !key.contains("/a/"))
        }
        #expect(await second.statistics().entries == 20)
        await second.removeAll()
        #expect(await second.statistics().entries == 0)
        #expect(await second.get(keys[1], now: t0) == nil)
        await second.shutdown()

        let third = try cache(directory)
        await third.waitForIndex()
        #expect(await third.statistics().entries == 0)
        await third.shutdown()
    }

    @Test("a write that fails is dropped and counted, and the cache keeps working")
    func failedWrite() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory)
        await l2.waitForIndex()
        await l2.set(makeEntry("kept"))
        // Without its temporary directory every write fails, as on a full disk.
        #expect(rmdir(directory.path + "/tmp") == 0)
        await l2.set(makeEntry("dropped"))
        await l2.set(makeEntry("dropped too"))
        #expect(await l2.get("dropped", now: t0) == nil)
        #expect(await l2.get("kept", now: t0) != nil)
        let stats = await l2.statistics()
        #expect(stats.errors == 2)
        #expect(stats.entries == 1)
        await l2.shutdown()
    }

    @Test("concurrent gets and sets only ever see complete entries of the right key")
    func concurrentGetsAndSets() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let l2 = try cache(directory, maxBytes: 1 << 22)
        let keys = (0..<16).map { "v1|http://o|/c/\($0)|f" }
        let bodies = Dictionary(uniqueKeysWithValues: keys.map { ($0, makeEntry($0, bodyBytes: 3_000).body) })
        let wrong = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for step in 0..<60 {
                        let key = keys[(worker * 7 + step) % keys.count]
                        if step % 3 == 0 {
                            await l2.set(makeEntry(key, bodyBytes: 3_000))
                        } else if let found = await l2.get(key, now: t0) {
                            if found.key != key || found.body != bodies[key] { wrong += 1 }
                        }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
        let stats = await l2.statistics()
        #expect(stats.corrupt == 0)
        #expect(stats.errors == 0)
        #expect(stats.entries == keys.count)
        await l2.shutdown()
    }
}
