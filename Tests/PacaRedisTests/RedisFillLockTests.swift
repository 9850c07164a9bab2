import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// The nodes' fill lock on a real `redis-server` (and a real cluster): `SET NX PX` with a random
/// token, release by compare-and-delete, the pass marker, bounded waits.
@Suite("The nodes' fill lock (real Redis)", .serialized, .timeLimit(.minutes(1)))
struct RedisFillLockTests {
    static let key = "v1|http://example.com/slow|fp"

    /// A fresh `redis-server`, a tier on it and a fill lock on the tier.
    static func lockOnFreshRedis(
        lockTimeout: Duration = .seconds(3), passMarkerLifetime: Duration = .seconds(1), tierTimeout: Duration = .milliseconds(250),
        failureThreshold: Int = 3
    ) async throws -> (RedisServer, RedisTier, RedisFillLock) {
        let server = try await RedisServer()
        let tier = try makeTier(server, timeout: tierTimeout, failureThreshold: failureThreshold)
        return (server, tier, RedisFillLock(tier: tier, lockTimeout: lockTimeout, passMarkerLifetime: passMarkerLifetime))
    }

    static func stop(_ server: RedisServer, _ tier: RedisTier) async {
        await tier.shutdown()
        await server.stop()
    }

    @Test("one node takes the lock; the next finds it held; after the holder's release it is free again")
    func acquireAndRelease() async throws {
        let (server, tier, lock) = try await Self.lockOnFreshRedis(lockTimeout: .seconds(30))
        defer { Task { await Self.stop(server, tier) } }

        let lease = try #require(await lock.acquire(Self.key).lease)
        #expect(lease.token.count == 32)
        #expect(await lock.acquire(Self.key) == .heldElsewhere)
        // The lock expires by itself: PX is the lock timeout.
        guard case .integer(let ttl) = try await tier.command(["PTTL", lock.lockKey(for: Self.key)]) else {
            Issue.record("no PTTL")
            return
        }
        #expect(ttl > 0 && ttl <= 30_000)
        await lock.release(lease, outcome: .stored)
        #expect(try await tier.command(["EXISTS", lock.lockKey(for: Self.key)]) == .integer(0))
        #expect(await lock.acquire(Self.key).lease != nil, "the released lock can be taken again")
    }

    @Test("a stale holder (its lock expired and another node took it) does not delete or mark the new holder's lock")
    func staleHolderReleasesNothing() async throws {
        let (server, tier, lock) = try await Self.lockOnFreshRedis(lockTimeout: .seconds(5))
        defer { Task { await Self.stop(server, tier) } }

        let stale = try #require(await lock.acquire(Self.key).lease)
        // The stale holder's lock expires (deleted here: as if PX had run out) and another takes it.
        _ = try await tier.command(["DEL", lock.lockKey(for: Self.key)])
        let current = try #require(await lock.acquire(Self.key).lease)
        #expect(current.token != stale.token)
        for outcome in [SharedFillRelease.stored, .notShared, .failed] {
            await lock.release(stale, outcome: outcome)
            #expect(try await tier.command(["GET", lock.lockKey(for: Self.key)]).text == current.token)
        }
        await lock.release(current, outcome: .failed)
        #expect(try await tier.command(["EXISTS", lock.lockKey(for: Self.key)]) == .integer(0))
    }

    @Test("a fill whose answer is not shared leaves the pass marker: waiters stop at once, the next acquire says pass, and it expires")
    func passMarker() async throws {
        let (server, tier, lock) = try await Self.lockOnFreshRedis(lockTimeout: .seconds(30), passMarkerLifetime: .seconds(10))
        defer { Task { await Self.stop(server, tier) } }

        let lease = try #require(await lock.acquire(Self.key).lease)
        async let waited = lock.waitForRelease(Self.key)
        await lock.release(lease, outcome: .notShared)
        let started = ContinuousClock.now
        #expect(await waited == .pass)
        // Far sooner than the 30 s lock timeout.
        #expect(started.duration(to: .now) < .seconds(10))
        #expect(await lock.acquire(Self.key) == .pass)
        guard case .integer(let ttl) = try await tier.command(["PTTL", lock.lockKey(for: Self.key)]) else {
            Issue.record("no PTTL")
            return
        }
        #expect(ttl > 0 && ttl <= 10_000)
    }

    @Test("a wait ends when the holder releases, and after the lock timeout when the holder never does")
    func waits() async throws {
        let (server, tier, lock) = try await Self.lockOnFreshRedis(lockTimeout: .milliseconds(400))
        defer { Task { await Self.stop(server, tier) } }

        let lease = try #require(await lock.acquire(Self.key).lease)
        async let released = lock.waitForRelease(Self.key)
        await lock.release(lease, outcome: .stored)
        #expect(await released == .released)

        // A holder that died: its lock is set with a token nobody will release, and no expiry.
        _ = try await tier.command(["SET", lock.lockKey(for: Self.key), "dead-holder"])
        let started = ContinuousClock.now
        #expect(await lock.waitForRelease(Self.key) == .timedOut)
        let waited = started.duration(to: .now)
        // The dead holder's lock never goes: the wait ends at the lock timeout (plus a poll).
        #expect(waited >= .milliseconds(400) && waited < .seconds(10), "\(waited)")
    }

    @Test("with Redis down, acquire says unavailable within the timeout, and then at once while the breaker is open")
    func unavailable() async throws {
        let (server, tier, lock) = try await Self.lockOnFreshRedis(tierTimeout: .milliseconds(200), failureThreshold: 2)
        defer { Task { await Self.stop(server, tier) } }

        await server.stop()
        for _ in 0..<3 {
            let started = ContinuousClock.now
            #expect(await lock.acquire(Self.key) == .unavailable)
            #expect(started.duration(to: .now) < .seconds(1))
        }
        #expect(tier.breakerState == "open")
        #expect(await lock.waitForRelease(Self.key) == .unavailable)
    }

    @Test("the lock key shares the entry key's hash slot (its hash tag is the entry key), and is outside the sweep's pattern")
    func lockKeySlot() async throws {
        let closed = ClosedPort()
        let tier = RedisTier(configuration: RedisTier.Configuration(url: RedisURL(host: "127.0.0.1", port: closed.port)))
        defer { Task { await tier.shutdown() } }
        let lock = RedisFillLock(tier: tier)
        for index in 0..<200 {
            let key = "v1|http://example.com/item/\(index)|fp"
            let entryKey = tier.redisKey(for: key)
            let lockKey = lock.lockKey(for: key)
            #expect(RedisHashSlot.slot(for: lockKey) == RedisHashSlot.slot(for: entryKey))
            #expect(!lockKey.hasPrefix("paca:e:"))
        }
        // A namespace with its own hash tag: the lock key keeps it.
        #expect(RedisFillLock.lockKey(forEntryKey: "{tenant}:e:abc") == "{tenant}:e:abc:lock")
        #expect(RedisHashSlot.slot(for: "{tenant}:e:abc:lock") == RedisHashSlot.slot(for: "{tenant}:e:abc"))
    }

    @Test("on a Redis Cluster: lock, wait and release go to the entry's master, no CROSSSLOT, for keys on every master")
    func cluster() async throws {
        let cluster = try await RedisClusterServer()
        let tier = try RedisClusterTierTests.tier(cluster, clock: ManualWallClock(start: 1_000_000))
        let lock = RedisFillLock(tier: tier, lockTimeout: .seconds(2))
        defer {
            Task {
                await tier.shutdown(); await cluster.stop()
            }
        }

        var slots = Set<Int>()
        for index in 0..<12 {
            let key = "v1|http://example.com/c/\(index)|fp"
            slots.insert(RedisHashSlot.slot(for: lock.lockKey(for: key)) / (RedisHashSlot.count / 3))
            let lease = try #require(await lock.acquire(key).lease, "no lock for \(key)")
            #expect(await lock.acquire(key) == .heldElsewhere)
            await lock.release(lease, outcome: .notShared)
            #expect(await lock.acquire(key) == .pass)
            #expect(await lock.waitForRelease(key) == .pass)
        }
        #expect(slots.count == 3)
    }
}

extension SharedFillAcquisition {
    /// The lease when the lock was acquired.
    fileprivate var lease: SharedFillLease? {
        if case .acquired(let lease) = self { return lease }
        return nil
    }
}
