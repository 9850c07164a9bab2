import Foundation
import NIOCore
import NIOPosix
import PacaCore
import PacaHTTPCaching
import PacaSealing
import PacaStorage
import Testing

/// 2026-01-01T00:00:00Z.
private let t0: UnixMillis = 1_767_225_600_000
/// Text that must never appear in a sealed encoding: it is in the body and in a header value.
private let bodyMarker = "PLAINTEXT-BODY-MARKER"
private let headerMarker = "secret-header-value-7731"

private func sealer(_ id: String = "k1", fill: UInt8 = 7) throws -> AESGCMSealer {
    try AESGCMSealer(keyID: id, key: [UInt8](repeating: fill, count: 32))
}

private func sealedEntry(_ key: String = "v1|http://o|/private|fp", bodyRepeats: Int = 4, encrypt: Bool = true) -> CacheEntry {
    let body = ByteBuffer(string: String(repeating: bodyMarker + " ", count: bodyRepeats))
    return CacheEntry(
        key: key, status: 200,
        headers: [HTTPField(name: "Content-Type", value: "text/plain"), HTTPField(name: "X-Account", value: headerMarker)],
        body: body,
        timing: EntryTiming(
            requestTime: t0 - 5, responseTime: t0, correctedInitialAge: 0, freshnessLifetime: 60_000, staleIfError: 1000,
            mustRevalidate: true, storageExpiry: t0 + 3_600_000),
        etag: "\"etag-marker\"", lastModified: "Wed, 21 Oct 2015 07:28:00 GMT", encryptAtRest: encrypt)
}

private func contains(_ haystack: ByteBuffer, _ needle: String) -> Bool {
    Data(haystack.readableBytesView).range(of: Data(needle.utf8)) != nil
}

/// Replaces the trailing CRC-32C so that a test can change bytes the checksum would catch and
/// reach the authentication check behind it.
private func recomputingChecksum(_ buffer: ByteBuffer) -> ByteBuffer {
    var copy = buffer.getSlice(at: buffer.readerIndex, length: buffer.readableBytes - 4)!
    let crc = copy.withUnsafeReadableBytes { CRC32C.checksum($0) }
    copy.writeInteger(crc)
    return copy
}

@Suite("Sealed entries: the codec's AES-GCM variant")
struct SealedEntryCodecTests {
    @Test("a sealed encoding hides body, header values and validators, keeps key and times clear, and opens to the same entry")
    func roundTrip() throws {
        let entry = sealedEntry()
        let encoded = try #require(EntryCodec.encodeSealed(entry, sealer: try sealer()))
        #expect(!contains(encoded, bodyMarker))
        #expect(!contains(encoded, headerMarker))
        #expect(!contains(encoded, "etag-marker"))
        #expect(contains(encoded, "k1"))

        let summary = try EntryCodec.summarize(encoded)
        #expect(summary.key == entry.key)
        #expect(summary.storageExpiry == entry.timing.storageExpiry)
        #expect(summary.requestTime == entry.timing.requestTime)
        #expect(summary.encodedLength == encoded.readableBytes)

        let decoded = try EntryCodec.decode(encoded, expectedKey: entry.key, sealer: try sealer())
        #expect(decoded.entry.encryptAtRest)
        #expect(decoded.bodyEncoding == .identity)
        #expect(decoded.entry.body == entry.body)
        #expect(decoded.entry.headers == entry.headers)
        #expect(decoded.entry.status == 200)
        #expect(decoded.entry.timing == entry.timing)
        #expect(decoded.entry.etag == entry.etag)
        #expect(decoded.entry.lastModified == entry.lastModified)
    }

    @Test("two sealings of one entry differ (a fresh nonce each time)")
    func noncePerEntry() throws {
        let entry = sealedEntry()
        let first = try #require(EntryCodec.encodeSealed(entry, sealer: try sealer()))
        let second = try #require(EntryCodec.encodeSealed(entry, sealer: try sealer()))
        #expect(first != second)
    }

    @Test("without the key id's key: no sealer or another key id is keyUnavailable, another key under the same id fails authentication")
    func wrongKeys() throws {
        let entry = sealedEntry()
        let encoded = try #require(EntryCodec.encodeSealed(entry, sealer: try sealer()))
        #expect(throws: EntryCodecError.keyUnavailable(keyID: "k1")) { try EntryCodec.decode(encoded, expectedKey: entry.key) }
        #expect(throws: EntryCodecError.keyUnavailable(keyID: "k1")) {
            try EntryCodec.decode(encoded, expectedKey: entry.key, sealer: try sealer("k2"))
        }
        #expect(throws: EntryCodecError.authenticationFailed) {
            try EntryCodec.decode(encoded, expectedKey: entry.key, sealer: try sealer("k1", fill: 9))
        }
        // The key is still compared first: another key's entry is a collision, whatever the seal.
        #expect(throws: EntryCodecError.keyMismatch) { try EntryCodec.decode(encoded, expectedKey: "other", sealer: try sealer()) }
    }

    @Test("the clear head is authenticated: a changed expiry or a flipped ciphertext bit does not open, even with a fixed checksum")
    func tamperingIsDetected() throws {
        let entry = sealedEntry()
        let encoded = try #require(EntryCodec.encodeSealed(entry, sealer: try sealer()))
        let headerLength = try EntryCodec.summaryLength(prefix: encoded) - EntryCodec.prefixLength

        // storageExpiry is the last i64 of the clear header section.
        var extended = encoded
        extended.setInteger(Int64.max, at: EntryCodec.prefixLength + headerLength - 8)
        #expect(throws: EntryCodecError.checksumMismatch) { try EntryCodec.decode(extended, expectedKey: entry.key, sealer: try sealer()) }
        #expect(throws: EntryCodecError.authenticationFailed) {
            try EntryCodec.decode(recomputingChecksum(extended), expectedKey: entry.key, sealer: try sealer())
        }

        var flipped = encoded
        let position = encoded.readableBytes - 30
        flipped.setInteger(flipped.getInteger(at: position, as: UInt8.self)! ^ 1, at: position)
        #expect(throws: EntryCodecError.authenticationFailed) {
            try EntryCodec.decode(recomputingChecksum(flipped), expectedKey: entry.key, sealer: try sealer())
        }
    }

    @Test("decodeHead refuses a sealed entry, so its body is never served from the file as it is")
    func headRefusesSealed() throws {
        let encoded = try #require(EntryCodec.encodeSealed(sealedEntry(), sealer: try sealer()))
        #expect(throws: EntryCodecError.sealed) { try EntryCodec.decodeHead(encoded, expectedKey: nil) }
    }

    @Test("keys are 64 hex digits or base64 of 32 bytes; anything else is refused")
    func keyText() throws {
        let hex = String(repeating: "0a", count: 32)
        #expect(AESGCMSealer.keyBytes(hex) == [UInt8](repeating: 10, count: 32))
        #expect(AESGCMSealer.keyBytes(" \(hex.uppercased())\n") == [UInt8](repeating: 10, count: 32))
        let base64 = Data(repeating: 3, count: 32).base64EncodedString()
        #expect(AESGCMSealer.keyBytes(base64) == [UInt8](repeating: 3, count: 32))
        #expect(AESGCMSealer.keyBytes(Data(repeating: 3, count: 16).base64EncodedString()) == nil)
        #expect(AESGCMSealer.keyBytes(String(repeating: "0g", count: 32)) == nil)
        #expect(AESGCMSealer.keyBytes("short") == nil)
        #expect(throws: SealingKeyError.notAKey(length: 5)) { try AESGCMSealer(keyID: "k1", text: "short") }
        #expect(throws: SealingKeyError.badKeyID("")) { try AESGCMSealer(keyID: "", text: hex) }
    }
}

@Suite("Sealed entries in L2")
struct SealedDiskCacheTests {
    private static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "paca-sealed-l2-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private static func cache(_ path: String, sealer: (any EntrySealer)?) throws -> DiskCache {
        try DiskCache(directory: path, clock: ManualWallClock(start: t0), threads: 1, sealer: sealer)
    }

    @Test("an encryptAtRest entry is written sealed (small and gzip-compressed bodies alike) and read back in plaintext")
    func writesSealed() async throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let l2 = try Self.cache(path, sealer: try sealer())
        let small = sealedEntry("v1|http://o|/small|fp")
        let large = sealedEntry("v1|http://o|/large|fp", bodyRepeats: 2000)
        await l2.set(small)
        await l2.set(large)
        for entry in [small, large] {
            let file = try #require(FileManager.default.contents(atPath: l2.filePath(for: entry.key)))
            #expect(!contains(ByteBuffer(bytes: file), bodyMarker))
            #expect(!contains(ByteBuffer(bytes: file), headerMarker))
            let read = try #require(await l2.get(entry.key, now: t0 + 1))
            #expect(read.body == entry.body)
            #expect(read.headers == entry.headers)
            #expect(read.encryptAtRest)
        }
        // The large body was gzipped before sealing: the file is far smaller than the body.
        let largeFile = try #require(FileManager.default.contents(atPath: l2.filePath(for: large.key)))
        #expect(largeFile.count < large.body.readableBytes / 4)
        let stored = try #require(await l2.getStored(large.key, now: t0 + 1))
        #expect(stored.bodyEncoding == .gzip)
        await l2.shutdown()
    }

    @Test("the file-serving path returns a sealed entry opened in memory, never its file")
    func servingPathOpens() async throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let l2 = try Self.cache(path, sealer: try sealer())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let entry = sealedEntry(bodyRepeats: 50)
        await l2.set(entry)
        let hit = try await l2.getForServing(entry.key, now: t0 + 1, inlineLimit: 16, on: group.next()).get()
        guard case .entry(let served) = try #require(hit) else {
            Issue.record("a sealed entry was served from its file")
            return
        }
        #expect(served.body == entry.body)
        await l2.shutdown()
        try await group.shutdownGracefully()
    }

    @Test("restarted with another key id or without a key, sealed files are misses; a new fill replaces them")
    func rotatedKeyMisses() async throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let entry = sealedEntry()
        let first = try Self.cache(path, sealer: try sealer("k1"))
        await first.set(entry)
        await first.shutdown()

        let rotated = try Self.cache(path, sealer: try sealer("k2", fill: 9))
        await rotated.waitForIndex()
        #expect(await rotated.get(entry.key, now: t0 + 1) == nil)
        #expect(await rotated.statistics().corrupt == 0)
        await rotated.set(entry)
        #expect(await rotated.get(entry.key, now: t0 + 1)?.body == entry.body)
        await rotated.shutdown()

        let keyless = try Self.cache(path, sealer: nil)
        #expect(await keyless.get(entry.key, now: t0 + 1) == nil)
        await keyless.shutdown()
    }

    @Test("without a sealer an encryptAtRest entry is not written at all, and is never streamed to disk")
    func neverPlaintext() async throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyless = try Self.cache(path, sealer: nil)
        let entry = sealedEntry()
        await keyless.set(entry)
        #expect(!FileManager.default.fileExists(atPath: keyless.filePath(for: entry.key)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        #expect(keyless.beginWrite(entry, bodyLength: 1000, on: group.next()) == nil)
        await keyless.shutdown()

        let keyed = try Self.cache(path, sealer: try sealer())
        #expect(keyed.beginWrite(entry, bodyLength: 1000, on: group.next()) == nil)
        // The control: the same entry unmarked streams (a writer lives on its event loop).
        let loop = group.next()
        let plainWriter = try await loop.submit { () -> Bool in
            let writer = keyed.beginWrite(sealedEntry(encrypt: false), bodyLength: 1000, on: loop)
            writer?.abort()
            return writer != nil
        }.get()
        #expect(plainWriter)
        await keyed.shutdown()
        try await group.shutdownGracefully()
    }
}
