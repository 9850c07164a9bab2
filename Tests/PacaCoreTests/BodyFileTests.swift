import Glibc
import NIOCore
import PacaCore
import Testing

/// The in-memory mirrors of bodies that hits send with `sendfile`: exact bytes, a budget that
/// bounds them and is given back, and regions that outlive their mirror.
@Suite("BodyFile")
struct BodyFileTests {
    static func body(_ count: Int, seed: UInt8 = 7) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed })
    }

    static func entry(_ body: ByteBuffer) -> CacheEntry {
        CacheEntry(
            key: "v1|http://h|/big", status: 200, headers: [], body: body,
            timing: EntryTiming(requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: 60_000))
    }

    /// Every byte the region covers, read through its own descriptor.
    static func contents(_ region: FileRegion) throws -> [UInt8] {
        try region.fileHandle.withUnsafeFileDescriptor { fd in
            var bytes = [UInt8](repeating: 0, count: region.readableBytes)
            let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(region.readerIndex)) }
            #expect(read == region.readableBytes)
            return bytes
        }
    }

    @Test("a mirror holds exactly the body, and its bytes count against the budget until it goes")
    func mirrorsExactly() throws {
        let budget = BodyFileBudget(limit: 1 << 20)
        let body = Self.body(200_000)
        var file: BodyFile? = {
            guard case .made(let made) = BodyFile.make(copying: body, budget: budget) else { return nil }
            return made
        }()
        #expect(file != nil)
        #expect(budget.bytesHeld == 200_000)
        let region = try #require(file).region()
        #expect(region.readableBytes == 200_000)
        #expect(try Self.contents(region) == Array(body.readableBytesView))
        try region.fileHandle.close()
        file = nil
        #expect(budget.bytesHeld == 0, "the mirror gave its share back")
    }

    @Test("a body that does not fit the budget gets no mirror and holds nothing")
    func overBudget() {
        let budget = BodyFileBudget(limit: 100_000)
        guard case .overBudget = BodyFile.make(copying: Self.body(100_001), budget: budget) else {
            Issue.record("a mirror over the budget")
            return
        }
        #expect(budget.bytesHeld == 0)
        guard case .made = BodyFile.make(copying: Self.body(100_000), budget: budget) else {
            Issue.record("a body that fits exactly was refused")
            return
        }
    }

    @Test("a region written after its mirror is gone still reads the body (its own descriptor)")
    func regionOutlivesMirror() throws {
        let budget = BodyFileBudget(limit: 1 << 20)
        let body = Self.body(70_000, seed: 3)
        var entry: CacheEntry? = Self.entry(body)
        let region = try #require(entry?.bodyFile(budget: budget)).region()
        entry = nil
        #expect(budget.bytesHeld == 0, "the entry and its mirror are gone")
        #expect(try Self.contents(region) == Array(body.readableBytesView))
        try region.fileHandle.close()
    }

    @Test("an entry makes its mirror once; one refused for the budget gets it once room is freed")
    func entryMirrorOnce() throws {
        let budget = BodyFileBudget(limit: 100_000)
        var first: CacheEntry? = Self.entry(Self.body(80_000))
        let second = Self.entry(Self.body(80_000, seed: 9))
        let same = try #require(first?.bodyFile(budget: budget)) === first?.bodyFile(budget: budget)
        #expect(same, "the same mirror on every hit")
        #expect(second.bodyFile(budget: budget) == nil, "no room while the first holds 80,000 of 100,000 bytes")
        first = nil
        let region = try #require(second.bodyFile(budget: budget), "room again once the first entry is gone").region()
        #expect(try Self.contents(region) == Array(second.body.readableBytesView))
        try region.fileHandle.close()
        #expect(budget.bytesHeld == 80_000)
    }
}
