import NIOCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// `RedisCluster` against a real three-master Redis Cluster on loopback.
@Suite("Redis Cluster routing (real cluster)", .serialized, .timeLimit(.minutes(1)))
struct RedisClusterTests {
    @Test("the slot map read from the cluster is the one it was built with, by CLUSTER SHARDS and by CLUSTER SLOTS")
    func slotMapFromTheCluster() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client()
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        try await client.refreshSlotMap()
        let map = client.slotMap
        #expect(map.masters == cluster.addresses.sorted())
        #expect(map.unservedSlots == 0)
        for (index, range) in cluster.ranges.enumerated() {
            #expect(map.master(forSlot: range.lowerBound) == cluster.addresses[index])
            #expect(map.master(forSlot: range.upperBound) == cluster.addresses[index])
        }
        let slots = try await client.perform(on: cluster.addresses[1], [["CLUSTER", "SLOTS"].buffers])[0]
        // The same owners, slot range by slot range (the order the masters are listed in may
        // differ between the two replies).
        let parsed = try RedisSlotMap.parse(clusterSlots: slots, askedHost: "127.0.0.1")
        #expect(parsed.masters.sorted() == map.masters.sorted())
        #expect(parsed.unservedSlots == 0)
        for range in cluster.ranges {
            for slot in [range.lowerBound, (range.lowerBound + range.upperBound) / 2, range.upperBound] {
                #expect(parsed.master(forSlot: slot) == map.master(forSlot: slot), "slot \(slot)")
            }
        }
    }

    @Test("our slot of a key is the server's (CLUSTER KEYSLOT), hash tags included")
    func slotsAgreeWithTheServer() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client()
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        let keys =
            (0..<200).map { "paca:e:\($0 * 7919)" } + [
                "foo", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap", "a{b}c{d}",
            ]
        let replies = try await client.perform(on: cluster.addresses[0], keys.map { ["CLUSTER", "KEYSLOT", $0].buffers })
        for (key, reply) in zip(keys, replies) {
            #expect(reply == .integer(Int64(RedisHashSlot.slot(for: key))), "\(key)")
        }
    }

    @Test("each key is written to and read from the master of its slot; every master gets some")
    func routesByKey() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client()
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        for index in 0..<60 {
            let key = "paca:e:\(index)"
            let replies = try await client.run(key: key, [["SET", key, "v\(index)"].buffers, ["GET", key].buffers])
            #expect(replies == [.status("OK"), .bulk(ByteBuffer(string: "v\(index)"))])
        }
        var total: Int64 = 0
        for address in cluster.addresses {
            guard case .integer(let count) = try await client.perform(on: address, [["DBSIZE"].buffers])[0] else {
                Issue.record("DBSIZE")
                return
            }
            #expect(count > 0)
            total += count
        }
        #expect(total == 60)
        #expect(client.slotMapRefreshes == 1)
    }

    @Test("MOVED after a slot changes hands: the command lands on the new master and the map learns it")
    func followsMoved() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client()
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        try await client.refreshSlotMap()
        let slot = RedisHashSlot.slot(for: "foo")
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[2])
        // Hand the (empty) slot to the first node; the client's map still says the third.
        let admin = RedisClusterServer.admin(cluster.nodes, password: cluster.password)
        defer { Task { await admin.shutdown() } }
        for index in [0, 2, 1] {
            let reply = try await admin.perform(
                on: cluster.addresses[index], [["CLUSTER", "SETSLOT", String(slot), "NODE", cluster.ids[0]].buffers])
            #expect(reply == [.status("OK")])
        }
        #expect(try await client.run(key: "foo", [["SET", "foo", "moved"].buffers]) == [.status("OK")])
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[0])
        #expect(try await admin.perform(on: cluster.addresses[0], [["GET", "foo"].buffers]) == [.bulk(ByteBuffer(string: "moved"))])
        #expect(try await client.run(key: "foo", [["GET", "foo"].buffers]) == [.bulk(ByteBuffer(string: "moved"))])
    }

    @Test("ASK during a migration: the command goes once to the importing node, after ASKING; the map is unchanged")
    func followsAsk() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client()
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        let slot = RedisHashSlot.slot(for: "bar")
        try await client.refreshSlotMap()
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[0])
        let admin = RedisClusterServer.admin(cluster.nodes, password: cluster.password)
        defer { Task { await admin.shutdown() } }
        #expect(
            try await admin.perform(on: cluster.addresses[1], [["CLUSTER", "SETSLOT", String(slot), "IMPORTING", cluster.ids[0]].buffers])
                == [.status("OK")])
        #expect(
            try await admin.perform(on: cluster.addresses[0], [["CLUSTER", "SETSLOT", String(slot), "MIGRATING", cluster.ids[1]].buffers])
                == [.status("OK")])

        #expect(try await client.run(key: "bar", [["SET", "bar", "asked"].buffers]) == [.status("OK")])
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[0])
        #expect(try await client.run(key: "bar", [["GET", "bar"].buffers]) == [.bulk(ByteBuffer(string: "asked"))])
        // The key is on the importing node, readable there only after ASKING.
        let direct = try await admin.perform(on: cluster.addresses[1], [["ASKING"].buffers, ["GET", "bar"].buffers])
        #expect(direct.last == .bulk(ByteBuffer(string: "asked")))
    }

    @Test("a dead master costs only its own slots: its breaker opens, the other masters keep answering")
    func deadMasterIsolated() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client(timeout: .milliseconds(300), failureThreshold: 2)
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        try await client.refreshSlotMap()
        await cluster.nodes[2].kill()
        // "foo" lives on the dead third master, "bar" on the first.
        for _ in 0..<2 {
            await #expect(throws: RedisError.self) { try await client.run(key: "foo", [["GET", "foo"].buffers]) }
        }
        #expect(client.breakerState(of: cluster.addresses[2]) == "open")
        await #expect(throws: RedisError.breakerOpen) { try await client.run(key: "foo", [["GET", "foo"].buffers]) }
        #expect(try await client.run(key: "bar", [["SET", "bar", "alive"].buffers]) == [.status("OK")])
        #expect(client.breakerState(of: cluster.addresses[0]) == "closed")
    }
}

extension RedisClusterTests {
    @Test(
        "when a master dies and its slot is served elsewhere, the failure that opens its breaker reads the map again and the command goes there"
    )
    func failoverRereadsTheMap() async throws {
        let cluster = try await RedisClusterServer()
        let client = cluster.client(timeout: .milliseconds(300), failureThreshold: 1)
        defer {
            Task {
                await client.shutdown(); await cluster.stop()
            }
        }

        try await client.refreshSlotMap()
        let slot = RedisHashSlot.slot(for: "foo")
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[2])
        await cluster.nodes[2].kill()
        // What a failover does for this slot: another master serves it now.
        let admin = RedisClusterServer.admin(Array(cluster.nodes.prefix(2)), password: cluster.password)
        defer { Task { await admin.shutdown() } }
        for index in [0, 1] {
            let reply = try await admin.perform(
                on: cluster.addresses[index], [["CLUSTER", "SETSLOT", String(slot), "NODE", cluster.ids[0]].buffers])
            #expect(reply == [.status("OK")])
        }
        let refreshes = client.slotMapRefreshes
        #expect(try await client.run(key: "foo", [["SET", "foo", "after"].buffers]) == [.status("OK")])
        #expect(client.slotMap.master(forSlot: slot) == cluster.addresses[0])
        #expect(client.slotMapRefreshes == refreshes + 1)
        #expect(client.breakerState(of: cluster.addresses[2]) == "open")
    }
}
