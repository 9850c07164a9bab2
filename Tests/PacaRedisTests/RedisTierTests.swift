import NIOCore
import PacaCore
import PacaHTTPCaching
import PacaTestSupport
import Testing

@testable import PacaRedis

@Suite("L3 Redis tier against a real redis-server")
struct RedisTierTests {
    @Test("AUTH with the server's password works")
    func authenticates() async throws {
        let server = try await RedisServer()
        let tier = try makeTier(server)
        try await tier.ping()
        await tier.shutdown()
        await server.stop()
    }

    @Test("a wrong or missing password fails clearly and lookups become misses")
    func wrongPasswordFails() async throws {
        let server = try await RedisServer()
        let wrong = RedisTier(
            configuration: .init(url: RedisURL(host: "127.0.0.1", port: server.port, password: "not-the-password"), poolSize: 1),
            clock: ManualWallClock())
        await #expect {
            try await wrong.ping()
        } throws: { error in
            guard case .authenticationFailed(let reason) = error as? RedisError else { return false }
            return reason.contains("WRONGPASS") || reason.contains("invalid")
        }
        #expect(await wrong.get("k", now: 0) == nil)
        #expect(await wrong.statistics().errors >= 1)

        let missing = RedisTier(configuration: .init(url: RedisURL(host: "127.0.0.1", port: server.port), poolSize: 1))
        await #expect(throws: RedisError.authenticationFailed("NOAUTH Authentication required.")) { try await missing.ping() }
        await wrong.shutdown()
        await missing.shutdown()
        await server.stop()
    }

    @Test("set then get returns the same entry, binary body and all")
    func roundTripsBinaryBodies() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock)
        let now = clock.now()
        var body = ByteBuffer()
        for index in 0..<70_000 { body.writeInteger(UInt8(truncatingIfNeeded: index &* 31)) }
        body.writeBytes([0, 0, 13, 10, 0])
        let key = "v1|http://origin:9000|/api/items/7?id=7&q=*[x]|fp"
        let headers = [HTTPField(name: "Content-Type", value: "application/octet-stream"), HTTPField(name: "X-Multi", value: "a, b")]
        await tier.set(makeEntry(key, body: body, now: now, headers: headers))

        let entry = try #require(await tier.get(key, now: now + 1))
        #expect(entry.key == key)
        #expect(entry.body == body)
        #expect(entry.headers == headers)
        #expect(entry.status == 200)
        #expect(entry.etag == "\"v1\"")
        #expect(entry.lastModified == "Wed, 21 Oct 2015 07:28:00 GMT")
        #expect(entry.timing == makeEntry(key, now: now).timing)

        #expect(await tier.get("v1|http://origin:9000|/api/items/8|fp", now: now) == nil)
        // Past its storage lifetime by `now`, even though Redis still holds it.
        #expect(await tier.get(key, now: now + 60_000) == nil)
        let statistics = await tier.statistics()
        #expect(statistics.hits == 1)
        #expect(statistics.misses == 2)
        #expect(statistics.errors == 0)
        #expect(statistics.p99Micros > 0)
        #expect(statistics.p50Micros <= statistics.p99Micros)
        await tier.shutdown()
        await server.stop()
    }

    @Test("the Redis key of an entry is the one earlier versions wrote: <namespace>:e:, FNV-1a of the key, FNV-1a of <length>|<key>")
    func redisKeyIsStable() throws {
        let configuration = try RedisTier.Configuration(url: "redis://127.0.0.1:1/0", namespace: "ns", timeout: .seconds(1))
        let tier = RedisTier(configuration: configuration)
        func hex(_ text: String) -> String {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            let digits = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        let keys = ["", "a", "v1|http://example.com/items?id=1", "é|ü", String(repeating: "k", count: 1000), "v1|http://x/\u{0}"]
        for key in keys {
            #expect(tier.redisKey(for: key) == "ns:e:" + hex(key) + hex("\(key.utf8.count)|\(key)"))
            #expect(tier.redisKeyBytes(for: key) == ByteBuffer(string: tier.redisKey(for: key)))
        }
        // A digest with leading zero digits keeps them.
        #expect(FNV1a.hex("") == "cbf29ce484222325")
        var buffer = ByteBuffer()
        FNV1a.writeHex(0x0f, to: &buffer)
        #expect(String(buffer: buffer) == "000000000000000f")
    }

    @Test("values are stored under <namespace>:e:<hash> with PX = remaining storage lifetime")
    func storesWithRemainingLifetime() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock)
        // Built 30 s ago with a 120 s lifetime: 90 s remain.
        let entry = makeEntry("k1", now: clock.now() - 30_000, lifetime: 120_000)
        await tier.set(entry)
        let redisKey = tier.redisKey(for: "k1")
        #expect(redisKey.hasPrefix("paca:e:"))
        #expect(redisKey.count == "paca:e:".count + 32)
        guard case .integer(let ttl) = try await tier.command(["PTTL", redisKey]) else {
            Issue.record("PTTL did not answer an integer")
            return
        }
        // At most the 90 s that remain (not the full 120 s lifetime); the lower bound leaves room
        // for a loaded machine between the SET and the PTTL (a full run beside compiles once
        // took 40 s over this test).
        #expect(ttl > 30_000 && ttl <= 90_000)

        // An entry already past its lifetime is not sent at all.
        await tier.set(makeEntry("k2", now: clock.now() - 61_000, lifetime: 60_000))
        #expect(try await tier.command(["EXISTS", tier.redisKey(for: "k2")]) == .integer(0))
        await tier.shutdown()
        await server.stop()
    }

    @Test("entries larger than maxEntryBytes once encoded are not sent")
    func skipsOversizedEntries() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, maxEntryBytes: 4096)
        await tier.set(makeEntry("big", body: ByteBuffer(repeating: 7, count: 5000), now: clock.now()))
        await tier.set(makeEntry("small", body: ByteBuffer(repeating: 7, count: 100), now: clock.now()))
        #expect(try await tier.command(["EXISTS", tier.redisKey(for: "big")]) == .integer(0))
        #expect(await tier.get("small", now: clock.now()) != nil)
        #expect(tier.oversizedEntries == 1)
        await tier.shutdown()
        await server.stop()
    }

    @Test("two namespaces on one server do not see or clear each other's entries")
    func isolatesNamespaces() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let a = try makeTier(server, namespace: "a", clock: clock)
        let b = try makeTier(server, namespace: "b", clock: clock)
        await a.set(makeEntry("shared-key", body: ByteBuffer(string: "from a"), now: clock.now()))
        #expect(await b.get("shared-key", now: clock.now()) == nil)
        await b.set(makeEntry("shared-key", body: ByteBuffer(string: "from b"), now: clock.now()))
        await b.removeAll()
        #expect(await b.get("shared-key", now: clock.now()) == nil)
        #expect(await a.get("shared-key", now: clock.now())?.body == ByteBuffer(string: "from a"))
        await a.shutdown()
        await b.shutdown()
        await server.stop()
    }

    @Test("removeAll(where:) scans the namespace and tests each stored full key")
    func removesByStoredKey() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, namespace: "ns*[x]", clock: clock)
        let now = clock.now()
        let users = (0..<40).map { "v1|http://o|/api/users/\($0)|fp" }
        let items = (0..<30).map { "v1|http://o|/api/items/\($0)?q=*|fp" }
        await tier.set((users + items).map { makeEntry($0, now: now) })
        // A header longer than the first read of a sweep.
        let longHeader = [HTTPField(name: "X-Long", value: String(repeating: "h", count: 6000))]
        await tier.set(makeEntry("v1|http://o|/api/users/long|fp", now: now, headers: longHeader))
        // Outside the namespace but matching a naive glob of it.
        _ = try await tier.command(["SET", "nsx:e:foreign", "keep"])
        _ = try await tier.command(["SET", "ns*[x]:other", "keep"])

        let removed = await tier.removeAll { $0.contains("/api/users/") }
        #expect(removed == 41)
        #expect(await tier.get(users[3], now: now) == nil)
        #expect(await tier.get("v1|http://o|/api/users/long|fp", now: now) == nil)
        #expect(await tier.get([String](items), now: now).count == 30)
        #expect(try await tier.command(["EXISTS", "nsx:e:foreign", "ns*[x]:other"]) == .integer(2))

        await tier.removeAll()
        #expect(await tier.get([String](items), now: now).isEmpty)
        #expect(try await tier.command(["EXISTS", "nsx:e:foreign", "ns*[x]:other"]) == .integer(2))
        await tier.shutdown()
        await server.stop()
    }

    @Test("batch get and set go through one pipelined round trip each")
    func batchesArePipelined() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock)
        let now = clock.now()
        let keys = (0..<200).map { "v1|http://o|/batch/\($0)|fp" }
        await tier.set(keys.map { makeEntry($0, body: ByteBuffer(string: "body \($0)"), now: now) })
        let found = await tier.get(keys + ["missing-1", "missing-2", keys[0]], now: now)
        #expect(found.count == 200)
        #expect(found[keys[123]]?.body == ByteBuffer(string: "body \(keys[123])"))
        let statistics = await tier.statistics()
        #expect(statistics.hits == 200)
        #expect(statistics.misses == 2)
        await tier.shutdown()
        await server.stop()
    }

    @Test("a damaged value is a miss, counted as corrupt and deleted")
    func damagedValueIsCorrupt() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, poolSize: 1)
        let redisKey = tier.redisKey(for: "k")
        _ = try await tier.command(["SET", redisKey, "PACA garbage"])
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(await tier.statistics().corrupt == 1)
        // One connection, FIFO: the DEL queued by the lookup ran before this command.
        #expect(try await tier.command(["EXISTS", redisKey]) == .integer(0))
        await tier.shutdown()
        await server.stop()
    }

    @Test("a full Redis (OOM replies) means not stored, warns about noeviction once, and never trips the breaker")
    func outOfMemoryDoesNotTripBreaker() async throws {
        let server = try await RedisServer(extraArguments: ["--maxmemory", "1", "--maxmemory-policy", "noeviction"])
        let clock = ManualWallClock()
        let recorder = CapturedLog()
        let tier = try makeTier(server, clock: clock, poolSize: 1, failureThreshold: 2, logger: recorder.logger)
        for index in 0..<5 {
            await tier.set(makeEntry("k\(index)", now: clock.now()))
        }
        #expect(tier.rejectedWrites == 5)
        #expect(tier.breakerState == "closed")
        #expect(await tier.get("k0", now: clock.now()) == nil)
        #expect(await tier.statistics().errors == 0)
        #expect(recorder.count(.warning, containing: "noeviction") == 1)
        #expect(!recorder.all.joined().contains(server.password))
        await tier.shutdown()
        await server.stop()
    }
}
