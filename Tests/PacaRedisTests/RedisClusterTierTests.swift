import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// `RedisTier` with `storage.l3.cluster`: the same L3 on a real three-master cluster.
@Suite("L3 on a Redis Cluster (real cluster)", .serialized, .timeLimit(.minutes(1)))
struct RedisClusterTierTests {
    static func tier(_ cluster: RedisClusterServer, clock: ManualWallClock, failureThreshold: Int = 3) throws -> RedisTier {
        let configuration = try RedisTier.Configuration(
            cluster: cluster.addresses.map(\.description), passwordEnvironmentVariable: "PACA_TEST_CLUSTER_PASSWORD",
            timeout: .milliseconds(300), poolSize: 2, failureThreshold: failureThreshold, environment: { _ in cluster.password })
        return RedisTier(configuration: configuration, clock: clock)
    }

    @Test("entries are stored on and read from every master, one by one and in batches; a sweep scans every master")
    func entriesAcrossMasters() async throws {
        let cluster = try await RedisClusterServer()
        let clock = ManualWallClock(start: 1_000_000)
        let tier = try Self.tier(cluster, clock: clock)
        defer {
            Task {
                await tier.shutdown(); await cluster.stop()
            }
        }

        let keys = (0..<40).map { "v1|http://example.com/item/\($0)" }
        await tier.set(keys.map { makeEntry($0, body: ByteBuffer(string: $0), now: clock.now()) })
        for key in keys.prefix(5) {
            #expect(await tier.get(key, now: clock.now())?.body == ByteBuffer(string: key))
        }
        let found = await tier.get(keys + ["v1|http://example.com/missing"], now: clock.now())
        #expect(found.count == 40)
        // Every master holds some of them.
        let admin = RedisClusterServer.admin(cluster.nodes, password: cluster.password)
        defer { Task { await admin.shutdown() } }
        for address in cluster.addresses {
            let size = try await admin.perform(on: address, [["DBSIZE"].buffers])[0]
            guard case .integer(let count) = size else {
                Issue.record("DBSIZE answered \(size)")
                return
            }
            #expect(count > 0)
        }
        let removed = await tier.removeAll { $0.hasSuffix("/item/1") || $0.hasSuffix("/item/2") || $0.hasSuffix("/item/3") }
        #expect(removed == 3)
        #expect(await tier.get(keys[1], now: clock.now()) == nil)
        #expect(await tier.get(keys[4], now: clock.now()) != nil)
        await tier.remove(keys[4])
        #expect(await tier.get(keys[4], now: clock.now()) == nil)
        await tier.removeAll()
        #expect(await tier.get(keys[5], now: clock.now()) == nil)
        #expect(await tier.statistics().errors == 0)
    }

    @Test("bans are shared through the cluster like through one server")
    func bansThroughTheCluster() async throws {
        let cluster = try await RedisClusterServer()
        let clock = ManualWallClock(start: 1_000_000)
        let tier = try Self.tier(cluster, clock: clock)
        defer {
            Task {
                await tier.shutdown(); await cluster.stop()
            }
        }

        try await tier.ping()
        try await tier.publishBan(#"{"id":"a"}"#, at: 1_000_000, retainSince: 0)
        try await tier.publishBan(#"{"id":"b"}"#, at: 1_000_500, retainSince: 0)
        let bans = try await tier.bans(since: 1_000_100)
        #expect(bans.map(\.member) == [#"{"id":"b"}"#])
    }

    @Test("a dead master makes only its own entries misses; its breaker opens and the rest keep hitting")
    func deadMasterOnlyCostsItsSlots() async throws {
        let cluster = try await RedisClusterServer()
        let clock = ManualWallClock(start: 1_000_000)
        let tier = try Self.tier(cluster, clock: clock, failureThreshold: 2)
        defer {
            Task {
                await tier.shutdown(); await cluster.stop()
            }
        }

        let keys = (0..<30).map { "v1|http://example.com/dead/\($0)" }
        await tier.set(keys.map { makeEntry($0, now: clock.now()) })
        guard case .cluster(let client) = tier.backend else {
            Issue.record("not a cluster tier")
            return
        }
        let dead = cluster.addresses[2]
        let onDead = keys.filter { client.slotMap.master(forKey: tier.redisKey(for: $0)) == dead }
        let alive = keys.filter { !onDead.contains($0) }
        #expect(!onDead.isEmpty && !alive.isEmpty)
        await cluster.nodes[2].kill()

        for key in onDead.prefix(3) { #expect(await tier.get(key, now: clock.now()) == nil) }
        #expect(client.breakerState(of: dead) == "open")
        #expect(tier.breakerState == "half-open")
        #expect(await tier.get(alive, now: clock.now()).count == alive.count)
    }
}
