import Glibc
import NIOCore
import NIOEmbedded
import PacaCore
import Testing

/// The in-memory mirrors of bodies that hits send with `sendfile`: exact bytes, one descriptor
/// per loop, a budget in bytes and in mirrors that takes back the mirrors not sent lately.
@Suite("BodyFile")
struct BodyFileTests {
    static func body(_ count: Int, seed: UInt8 = 7) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed })
    }

    static func entry(_ count: Int, seed: UInt8 = 7) -> CacheEntry {
        CacheEntry(
            key: "v1|http://h|/big\(seed)", status: 200, headers: [], body: body(count, seed: seed),
            timing: EntryTiming(requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: 60_000))
    }

    /// Every byte the region covers, read through its descriptor.
    static func contents(_ region: FileRegion) throws -> [UInt8] {
        try region.fileHandle.withUnsafeFileDescriptor { fd in
            var bytes = [UInt8](repeating: 0, count: region.readableBytes)
            let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(region.readerIndex)) }
            #expect(read == region.readableBytes)
            return bytes
        }
    }

    @Test("a mirror holds exactly the body; its bytes count against the budget until the entry goes")
    func mirrorsExactly() throws {
        let budget = BodyFileBudget(limit: 1 << 20)
        let loop = EmbeddedEventLoop()
        var entry: CacheEntry? = Self.entry(200_000)
        let region = try #require(entry?.bodyFile(budget: budget)?.region(on: loop))
        #expect(budget.bytesHeld == 200_000)
        #expect(budget.filesHeld == 1)
        #expect(region.readableBytes == 200_000)
        #expect(try Self.contents(region) == Array(try #require(entry).body.readableBytesView))
        #expect(entry?.bodyFile(budget: budget) === entry?.bodyFile(budget: budget), "the same mirror on every hit")
        entry = nil
        #expect(budget.bytesHeld == 0, "the mirror went with its entry and gave its share back")
        #expect(!region.fileHandle.isOpen, "and closed its descriptors")
    }

    @Test("one descriptor per event loop, shared by every send on that loop")
    func descriptorPerLoop() throws {
        let budget = BodyFileBudget(limit: 1 << 20)
        let (first, second) = (EmbeddedEventLoop(), EmbeddedEventLoop())
        let entry = Self.entry(70_000)
        let file = try #require(entry.bodyFile(budget: budget))
        let a = try #require(file.region(on: first))
        let b = try #require(file.region(on: first))
        let c = try #require(file.region(on: second))
        #expect(a.fileHandle === b.fileHandle)
        #expect(a.fileHandle !== c.fileHandle)
        #expect(file.descriptorCount == 3)
        #expect(try Self.contents(c) == Array(entry.body.readableBytesView))
    }

    @Test("a body larger than the budget never gets a mirror")
    func largerThanBudget() {
        let budget = BodyFileBudget(limit: 100_000)
        let entry = Self.entry(100_001)
        #expect(entry.bodyFile(budget: budget) == nil)
        #expect(entry.bodyFile(budget: budget) == nil)
        #expect(budget.bytesHeld == 0)
    }

    @Test("with no room, a body asked for once waits; asked again, it takes back the mirror not sent lately")
    func clockTakesBackUnsent() throws {
        let budget = BodyFileBudget(limit: 200_000)
        let loop = EmbeddedEventLoop()
        let (a, b, c) = (Self.entry(80_000, seed: 1), Self.entry(80_000, seed: 2), Self.entry(80_000, seed: 3))
        let fileA = try #require(a.bodyFile(budget: budget))
        weak let fileB = b.bodyFile(budget: budget)
        #expect(fileB != nil)
        _ = fileA.region(on: loop)  // A is sent, B is not
        #expect(c.bodyFile(budget: budget) == nil, "the first ask takes nothing back")
        #expect(a.bodyFile(budget: budget) === fileA && b.bodyFile(budget: budget) === fileB)
        let fileC = try #require(c.bodyFile(budget: budget), "the second ask makes room")
        #expect(a.bodyFile(budget: budget) === fileA, "A was sent since the hand passed: kept")
        #expect(fileB == nil, "B's mirror was taken back and is gone")
        #expect(budget.filesHeld == 2)
        #expect(budget.bytesHeld == 160_000)
        #expect(try Self.contents(try #require(fileC.region(on: loop))) == Array(c.body.readableBytesView))
    }

    @Test("the number of mirrors is bounded too")
    func fileCountBound() throws {
        let budget = BodyFileBudget(limit: 1 << 30, maxFiles: 2)
        let entries = (1...3).map { Self.entry(70_000, seed: UInt8($0)) }
        #expect(entries[0].bodyFile(budget: budget) != nil)
        #expect(entries[1].bodyFile(budget: budget) != nil)
        #expect(entries[2].bodyFile(budget: budget) == nil)
        #expect(entries[2].bodyFile(budget: budget) != nil)
        #expect(budget.filesHeld == 2)
        #expect(budget.bytesHeld == 140_000)
    }
}
