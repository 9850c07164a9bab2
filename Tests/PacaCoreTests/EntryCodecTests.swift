import NIOCore
import PacaHTTPCaching
import Testing

@testable import PacaCore

/// 2026-01-01T00:00:00Z.
private let t0: UnixMillis = 1_767_225_600_000

private func sampleEntry(key: String = "v1|http://o:9000|/api/users/1?id=1|00ff", bodyBytes: Int = 300) -> CacheEntry {
    var body = ByteBufferAllocator().buffer(capacity: bodyBytes)
    for index in 0..<bodyBytes { body.writeInteger(UInt8(truncatingIfNeeded: index &* 31)) }
    let timing = EntryTiming(
        requestTime: t0 - 120, responseTime: t0, correctedInitialAge: 1_500, freshnessLifetime: 60_000,
        staleWhileRevalidate: 30_000, staleIfError: 300_000, mustRevalidate: true, alwaysRevalidate: false,
        storageExpiry: t0 + 3_960_000)
    return CacheEntry(
        key: key, status: 203,
        headers: [
            HTTPField(name: "Content-Type", value: "application/json; charset=utf-8"),
            HTTPField(name: "Cache-Control", value: "max-age=60, stale-while-revalidate=30"),
            HTTPField(name: "X-Ünicode", value: "grüße"),
        ],
        body: body, timing: timing, etag: "\"abc\"", lastModified: "Thu, 01 Jan 2026 00:00:00 GMT")
}

/// A deterministic generator so a failing fuzz case reproduces.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("CRC32C")
struct CRC32CTests {
    @Test("RFC 3720 B.4 test vectors and the common check value")
    func vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test("the processor's CRC-32C instruction, when used, agrees with the tables at every length and offset")
    func hardwareMatchesTables() {
        var random = SplitMix64(state: 11)
        let bytes = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes.withUnsafeBytes { all in
            for (offset, length) in [(0, 0), (0, 1), (1, 7), (3, 8), (5, 9), (0, 64), (7, 1023), (0, 16_384), (13, 19_000)] {
                let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                #expect(CRC32C.checksum(slice, seed: 0x1234_5678) == CRC32C.tableChecksum(slice, seed: 0x1234_5678))
                #expect(CRC32C.checksum(slice) == CRC32C.tableChecksum(slice))
            }
        }
    }

    @Test("a checksum continues from a seed, at every split point and unaligned length")
    func incremental() {
        var random = SplitMix64(state: 7)
        let bytes = (0..<77).map { _ in UInt8.random(in: 0...255, using: &random) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let first = CRC32C.checksum(bytes[..<split])
            #expect(CRC32C.checksum(bytes[split...], seed: first) == whole)
        }
    }
}

@Suite("EntryCodec")
struct EntryCodecTests {
    @Test("encode then decode returns every field unchanged")
    func roundTrip() throws {
        let entry = sampleEntry()
        let decoded = try EntryCodec.decode(EntryCodec.encode(entry), expectedKey: entry.key)
        #expect(decoded.bodyEncoding == .identity)
        let copy = decoded.entry
        #expect(copy.key == entry.key)
        #expect(copy.status == 203)
        #expect(copy.headers == entry.headers)
        #expect(copy.headerBlock == entry.headerBlock)
        #expect(copy.body == entry.body)
        #expect(copy.timing == entry.timing)
        #expect(copy.etag == "\"abc\"")
        #expect(copy.lastModified == "Thu, 01 Jan 2026 00:00:00 GMT")
    }

    @Test("absent validators, empty body and the gzip flag round-trip")
    func optionalParts() throws {
        let timing = EntryTiming(
            requestTime: 1, responseTime: 2, correctedInitialAge: 0, freshnessLifetime: 0, alwaysRevalidate: true,
            storageExpiry: .max)
        let entry = CacheEntry(key: "k", status: 200, headers: [], body: ByteBuffer(), timing: timing)
        let decoded = try EntryCodec.decode(EntryCodec.encode(entry, bodyEncoding: .gzip), expectedKey: nil)
        #expect(decoded.bodyEncoding == .gzip)
        #expect(decoded.entry.etag == nil)
        #expect(decoded.entry.lastModified == nil)
        #expect(decoded.entry.body.readableBytes == 0)
        #expect(decoded.entry.timing == timing)
    }

    @Test("summarize reads the key and expiry from the header alone")
    func summary() throws {
        let entry = sampleEntry()
        let encoded = EntryCodec.encode(entry, bodyEncoding: .gzip)
        let needed = try EntryCodec.summaryLength(prefix: encoded.getSlice(at: 0, length: EntryCodec.prefixLength)!)
        let summary = try EntryCodec.summarize(encoded.getSlice(at: 0, length: needed)!)
        #expect(summary.key == entry.key)
        #expect(summary.storageExpiry == entry.timing.storageExpiry)
        #expect(summary.requestTime == entry.timing.requestTime)
        #expect(summary.bodyEncoding == .gzip)
        #expect(summary.bodyLength == 300)
        #expect(summary.encodedLength == encoded.readableBytes)
        #expect(throws: EntryCodecError.truncated) { try EntryCodec.summarize(encoded.getSlice(at: 0, length: needed - 1)!) }
    }

    @Test("a different expected key is a key mismatch")
    func keyMismatch() {
        let encoded = EntryCodec.encode(sampleEntry(key: "A"))
        #expect(throws: EntryCodecError.keyMismatch) { try EntryCodec.decode(encoded, expectedKey: "B") }
    }

    @Test("bad magic, unknown version, trailing bytes and a flipped byte are each reported")
    func specificErrors() {
        let encoded = EntryCodec.encode(sampleEntry())
        var magic = encoded
        magic.setInteger(UInt8(ascii: "X"), at: 0)
        #expect(throws: EntryCodecError.badMagic) { try EntryCodec.decode(magic, expectedKey: nil) }
        var version = encoded
        version.setInteger(UInt8(99), at: 4)
        #expect(throws: EntryCodecError.unsupportedVersion(99)) { try EntryCodec.decode(version, expectedKey: nil) }
        var trailing = encoded
        trailing.writeInteger(UInt8(0))
        #expect(throws: EntryCodecError.malformed) { try EntryCodec.decode(trailing, expectedKey: nil) }
        for offset in [20, 100, encoded.readableBytes - 50, encoded.readableBytes - 1] {
            var flipped = encoded
            flipped.setInteger(flipped.getInteger(at: offset, as: UInt8.self)! ^ 0x01, at: offset)
            #expect(throws: EntryCodecError.checksumMismatch) { try EntryCodec.decode(flipped, expectedKey: nil) }
        }
    }

    @Test("every truncation of a valid encoding is an error, never a crash")
    func everyTruncation() {
        let encoded = EntryCodec.encode(sampleEntry())
        let summaryLength = try! EntryCodec.summaryLength(prefix: encoded.getSlice(at: 0, length: EntryCodec.prefixLength)!)
        for length in 0..<encoded.readableBytes {
            let prefix = encoded.getSlice(at: 0, length: length)!
            #expect(throws: EntryCodecError.truncated) { try EntryCodec.decode(prefix, expectedKey: nil) }
            // The summary needs only the prefix and the header section, not the body.
            if length < summaryLength {
                #expect(throws: EntryCodecError.truncated) { try EntryCodec.summarize(prefix) }
            } else {
                #expect((try? EntryCodec.summarize(prefix)) != nil)
            }
        }
    }

    @Test("random bytes, and valid encodings with random damage, decode to errors")
    func fuzz() {
        var random = SplitMix64(state: 42)
        let encoded = EntryCodec.encode(sampleEntry())
        for round in 0..<2_000 {
            var bytes: ByteBuffer
            switch round % 3 {
            case 0:
                let count = Int.random(in: 0..<600, using: &random)
                bytes = ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
            case 1:
                // A valid prefix with random lengths: exercises the length checks past the magic.
                bytes = ByteBuffer(bytes: [0x50, 0x41, 0x43, 0x41, EntryCodec.version])
                let count = Int.random(in: 0..<400, using: &random)
                bytes.writeBytes((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
            default:
                bytes = encoded
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let offset = Int.random(in: 0..<bytes.readableBytes, using: &random)
                    bytes.setInteger(UInt8.random(in: 1...255, using: &random) ^ bytes.getInteger(at: offset, as: UInt8.self)!, at: offset)
                }
            }
            #expect(throws: EntryCodecError.self) { try EntryCodec.decode(bytes, expectedKey: nil) }
            _ = try? EntryCodec.summarize(bytes)
        }
    }

    @Test("a damaged header with a recomputed checksum is malformed, not a crash")
    func damagedHeaderWithValidChecksum() {
        var random = SplitMix64(state: 99)
        let encoded = EntryCodec.encode(sampleEntry())
        for _ in 0..<2_000 {
            var bytes = encoded.getSlice(at: 0, length: encoded.readableBytes - 4)!
            let offset = Int.random(in: EntryCodec.prefixLength..<200, using: &random)
            bytes.setInteger(UInt8.random(in: 0...255, using: &random), at: offset)
            let crc = bytes.withUnsafeReadableBytes { CRC32C.checksum($0) }
            bytes.writeInteger(crc)
            // Some damage (inside a string, say) still parses; what matters is no trap.
            _ = try? EntryCodec.decode(bytes, expectedKey: nil)
        }
    }
}
