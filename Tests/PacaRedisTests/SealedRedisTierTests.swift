import Foundation
import NIOCore
import PacaCore
import PacaHTTPCaching
import PacaSealing
import PacaTestSupport
import Testing

@testable import PacaRedis

@Suite("Sealed entries in L3 against a real redis-server")
struct SealedRedisTierTests {
    static let bodyMarker = "L3-PLAINTEXT-BODY-MARKER"
    static let headerMarker = "l3-secret-header-4242"

    static func entry(_ key: String, now: UnixMillis, encrypt: Bool = true) -> CacheEntry {
        CacheEntry(
            key: key, status: 200,
            headers: [HTTPField(name: "Content-Type", value: "text/plain"), HTTPField(name: "X-Account", value: headerMarker)],
            body: ByteBuffer(string: String(repeating: bodyMarker, count: 3)),
            timing: EntryTiming(
                requestTime: now - 5, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 30_000, storageExpiry: now + 60_000),
            etag: "\"v1\"", encryptAtRest: encrypt)
    }

    static func sealer(_ id: String, fill: UInt8) throws -> AESGCMSealer {
        try AESGCMSealer(keyID: id, key: [UInt8](repeating: fill, count: 32))
    }

    @Test("the stored value holds neither body nor header text; the tier reads it back in plaintext")
    func storesSealed() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, sealer: try Self.sealer("k1", fill: 1))
        let entry = Self.entry("v1|http://o|/sealed|fp", now: clock.now())
        await tier.set(entry)
        guard case .bulk(let raw) = try await tier.command(["GET", tier.redisKey(for: entry.key)]) else {
            Issue.record("no value stored")
            return
        }
        let bytes = Data(raw.readableBytesView)
        #expect(bytes.range(of: Data(Self.bodyMarker.utf8)) == nil)
        #expect(bytes.range(of: Data(Self.headerMarker.utf8)) == nil)
        // A sweep still finds the key in the clear head.
        #expect(try EntryCodec.summarize(raw).key == entry.key)

        let read = try #require(await tier.get(entry.key, now: clock.now()))
        #expect(read.body == entry.body)
        #expect(read.headers == entry.headers)
        #expect(read.encryptAtRest)
        await tier.shutdown()
        await server.stop()
    }

    @Test("a tier with another key id or key misses, never decodes garbage; without a sealer nothing is sent")
    func rotatedKeyMisses() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let writer = try makeTier(server, clock: clock, sealer: try Self.sealer("k1", fill: 1))
        let entry = Self.entry("v1|http://o|/rotated|fp", now: clock.now())
        await writer.set(entry)

        let rotated = try makeTier(server, clock: clock, sealer: try Self.sealer("k2", fill: 2))
        #expect(await rotated.get(entry.key, now: clock.now()) == nil)
        #expect(await rotated.statistics().corrupt == 0)
        // Left for the nodes that still hold k1.
        #expect(try await rotated.command(["EXISTS", rotated.redisKey(for: entry.key)]) == .integer(1))

        let sameIDOtherKey = try makeTier(server, clock: clock, sealer: try Self.sealer("k1", fill: 3))
        #expect(await sameIDOtherKey.get(entry.key, now: clock.now()) == nil)

        let keyless = try makeTier(server, clock: clock)
        let other = Self.entry("v1|http://o|/never|fp", now: clock.now())
        await keyless.set(other)
        #expect(try await keyless.command(["EXISTS", keyless.redisKey(for: other.key)]) == .integer(0))
        for tier in [writer, rotated, sameIDOtherKey, keyless] { await tier.shutdown() }
        await server.stop()
    }
}
