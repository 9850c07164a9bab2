import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// `storage.l3.read_from_replicas`: on a real cluster of 3 masters with one replica each, L3
/// lookups go to the replicas (`READONLY`), writes to the masters, and a replica that is down
/// sends its reads back to its master.
@Suite("L3 reads from cluster replicas (real cluster with replicas)", .serialized, .timeLimit(.minutes(2)))
struct RedisClusterReplicaTests {
    static func tier(_ cluster: RedisClusterServer, readFromReplicas: Bool) throws -> RedisTier {
        let configuration = try RedisTier.Configuration(
            cluster: cluster.addresses.map(\.description), passwordEnvironmentVariable: "P", timeout: .milliseconds(300), poolSize: 2,
            failureThreshold: 2, readFromReplicas: readFromReplicas, environment: { _ in cluster.password })
        return RedisTier(configuration: configuration, clock: ManualWallClock(start: 1_000_000))
    }

    /// `GET` calls each node has served so far.
    static func getCalls(_ admin: RedisCluster, _ addresses: [RedisNodeAddress]) async throws -> [Int] {
        var calls: [Int] = []
        for address in addresses {
            let info = try await admin.perform(on: address, [["INFO", "commandstats"].buffers])[0].text ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_get:") } ?? ""
            let value = line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0
            calls.append(value)
        }
        return calls
    }

    /// Writes `count` entries through `tier` and waits until every replica has its master's
    /// share. Replication is asynchronous but ordered: on each master a marker written after the
    /// entries and acknowledged by its replica (`WAIT`, bounded at 10 s) means the entries before
    /// it have arrived too. The marker is then deleted the same way, so `DBSIZE` counts entries.
    static func store(_ count: Int, through tier: RedisTier, cluster: RedisClusterServer, admin: RedisCluster) async throws -> [String] {
        let keys = (0..<count).map { "v1|http://example.com/r/\($0)" }
        await tier.set(keys.map { makeEntry($0, body: ByteBuffer(string: $0), now: 1_000_000) })
        for (address, range) in zip(cluster.addresses, cluster.ranges) {
            // A marker key in this master's slots (a key elsewhere would be answered MOVED).
            let marker = try #require((0..<100_000).lazy.map { "replicated-\($0)" }.first { range.contains(RedisHashSlot.slot(for: $0)) })
            let replies = try await admin.perform(
                on: address,
                [["SET", marker, "1"].buffers, ["WAIT", "1", "10000"].buffers, ["DEL", marker].buffers, ["WAIT", "1", "10000"].buffers])
            guard case .integer(let first) = replies[1], first >= 1, case .integer(let second) = replies[3], second >= 1 else {
                throw ReplicationLag(replicated: -1)
            }
        }
        var total = 0
        for address in cluster.replicaAddresses {
            if case .integer(let size) = try await admin.perform(on: address, [["DBSIZE"].buffers])[0] { total += Int(size) }
        }
        guard total == count else { throw ReplicationLag(replicated: total) }
        return keys
    }

    struct ReplicationLag: Error {
        var replicated: Int
    }

    /// One cluster for the three phases (a 6-node cluster costs seconds to start): replicas
    /// answer with the option, masters without it, and a replica that is down hands its reads
    /// back to its master.
    @Test(
        "with read_from_replicas lookups are answered by the replicas (no master serves a GET); without it by the masters; a replica down sends its reads back to its master"
    )
    func replicaReads() async throws {
        let cluster = try await RedisClusterServer(masters: 3, replicasPerMaster: 1)
        let tier = try Self.tier(cluster, readFromReplicas: true)
        let plain = try Self.tier(cluster, readFromReplicas: false)
        let admin = RedisClusterServer.admin(cluster.nodes + cluster.replicas, password: cluster.password)
        defer {
            Task {
                await tier.shutdown(); await plain.shutdown(); await admin.shutdown(); await cluster.stop()
            }
        }

        // Writes go to the masters (a replica would answer MOVED), and reach the replicas.
        let keys = try await Self.store(30, through: tier, cluster: cluster, admin: admin)

        // With the option: replicas only, every one taking its share.
        var mastersBefore = try await Self.getCalls(admin, cluster.addresses)
        var replicasBefore = try await Self.getCalls(admin, cluster.replicaAddresses)
        for key in keys { #expect(await tier.get(key, now: 1_000_000)?.body == ByteBuffer(string: key)) }
        #expect(await tier.get(keys, now: 1_000_000).count == 30)
        var mastersAfter = try await Self.getCalls(admin, cluster.addresses)
        let replicasAfter = try await Self.getCalls(admin, cluster.replicaAddresses)
        #expect(mastersAfter == mastersBefore)
        #expect(zip(replicasAfter, replicasBefore).map { $0 - $1 }.reduce(0, +) == 60)
        #expect(zip(replicasAfter, replicasBefore).allSatisfy { $0 > $1 })

        // Without it: masters only.
        replicasBefore = replicasAfter
        for key in keys.prefix(12) { #expect(await plain.get(key, now: 1_000_000) != nil) }
        #expect(try await Self.getCalls(admin, cluster.replicaAddresses) == replicasBefore)

        // The replica of the first master stops: its slots' reads go to that master, the others'
        // stay on their replicas, and every lookup still hits.
        await cluster.replicas[0].stop()
        mastersBefore = try await Self.getCalls(admin, cluster.addresses)
        for key in keys { #expect(await tier.get(key, now: 1_000_000)?.body == ByteBuffer(string: key)) }
        mastersAfter = try await Self.getCalls(admin, cluster.addresses)
        #expect(mastersAfter[0] > mastersBefore[0])
        #expect(mastersAfter[1] == mastersBefore[1] && mastersAfter[2] == mastersBefore[2])
        guard case .cluster(let client) = tier.backend else {
            Issue.record("not a cluster tier")
            return
        }
        #expect(client.replicaReadCounts.fallbacks == mastersAfter[0] - mastersBefore[0])
    }

    @Test("CLUSTER SHARDS and CLUSTER SLOTS replies list each master's online replicas")
    func slotMapReplicas() throws {
        func node(_ port: Int, _ role: String, _ health: String = "online") -> RedisReply {
            .array([
                .bulk(ByteBuffer(string: "ip")), .bulk(ByteBuffer(string: "10.0.0.1")), .bulk(ByteBuffer(string: "port")),
                .integer(Int64(port)), .bulk(ByteBuffer(string: "role")), .bulk(ByteBuffer(string: role)),
                .bulk(ByteBuffer(string: "health")), .bulk(ByteBuffer(string: health)),
            ])
        }
        let shards = RedisReply.array([
            .array([
                .bulk(ByteBuffer(string: "slots")), .array([.integer(0), .integer(16383)]), .bulk(ByteBuffer(string: "nodes")),
                .array([node(7000, "master"), node(7001, "replica"), node(7002, "replica", "fail")]),
            ])
        ])
        let map = try RedisSlotMap.parse(clusterShards: shards, askedHost: "127.0.0.1")
        #expect(map.replicas(forSlot: 42) == [RedisNodeAddress(host: "10.0.0.1", port: 7001)])

        let slots = RedisReply.array([
            .array([
                .integer(0), .integer(16383), .array([.bulk(ByteBuffer(string: "")), .integer(7000)]),
                .array([.bulk(ByteBuffer(string: "")), .integer(7001)]), .array([.bulk(ByteBuffer(string: "10.0.0.9")), .integer(7002)]),
            ])
        ])
        let fromSlots = try RedisSlotMap.parse(clusterSlots: slots, askedHost: "127.0.0.1")
        #expect(
            fromSlots.replicas(forSlot: 16383) == [
                RedisNodeAddress(host: "127.0.0.1", port: 7001), RedisNodeAddress(host: "10.0.0.9", port: 7002),
            ])
    }
}
