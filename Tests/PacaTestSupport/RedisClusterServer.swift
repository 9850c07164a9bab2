import Foundation
public import NIOCore
public import PacaRedis

/// A throwaway Redis Cluster on 127.0.0.1: `masters` cluster-enabled `redis-server`s (each a
/// `RedisServer`: own port, own temporary directory, started and stopped by PID) sharing one
/// password, the 16384 slots split evenly with `CLUSTER ADDSLOTSRANGE`, joined with `CLUSTER
/// MEET`. With `replicasPerMaster`, that many more servers per master join with `CLUSTER
/// REPLICATE` (`masterauth` set to the shared password) and are synced before `init` returns.
public final class RedisClusterServer: Sendable {
    /// The masters.
    public let nodes: [RedisServer]
    /// The replicas, `replicasPerMaster` per master: those of `nodes[i]` at
    /// `i * replicasPerMaster ..< (i + 1) * replicasPerMaster`.
    public let replicas: [RedisServer]
    public let password: String
    /// Each node's cluster id, in the order of `nodes`.
    public let ids: [String]
    /// The slot ranges given to each node, in the order of `nodes`.
    public let ranges: [ClosedRange<Int>]

    public var addresses: [RedisNodeAddress] { nodes.map { RedisNodeAddress(host: "127.0.0.1", port: $0.port) } }

    /// The replicas' addresses, in the order of `replicas`.
    public var replicaAddresses: [RedisNodeAddress] { replicas.map { RedisNodeAddress(host: "127.0.0.1", port: $0.port) } }

    public init(masters: Int = 3, replicasPerMaster: Int = 0) async throws {
        var random = SystemRandomNumberGenerator()
        let password = String(random.next() as UInt64, radix: 16) + String(random.next() as UInt64, radix: 16)
        var nodes: [RedisServer] = []
        var busPorts: [Int] = []
        for _ in 0..<(masters * (1 + replicasPerMaster)) {
            let busPort = try RedisServer.freePort()
            busPorts.append(busPort)
            nodes.append(
                try await RedisServer(
                    password: password,
                    // The cluster bus gets a free port too, not the default port + 10000, which
                    // could be a port another test has just closed and expects to stay refused.
                    extraArguments: [
                        "--cluster-port", String(busPort), "--cluster-enabled", "yes", "--cluster-config-file",
                        "nodes.conf", "--cluster-node-timeout", "5000",
                        "--cluster-require-full-coverage", "no", "--masterauth", password,
                        // A replica syncs at once (not after the default 5 s wait for more
                        // replicas), and its master pings it every second: until its offset
                        // moves, CLUSTER SLOTS and SHARDS leave it out (10 s by default).
                        "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1",
                    ]))
        }
        let replicas = Array(nodes[masters...])
        let replicaBusPorts = Array(busPorts[masters...])
        nodes = Array(nodes[..<masters])
        busPorts = Array(busPorts[..<masters])
        let share = RedisHashSlot.count / masters
        let ranges = (0..<masters).map { index in
            (index * share)...(index == masters - 1 ? RedisHashSlot.count - 1 : (index + 1) * share - 1)
        }
        let admin = Self.admin(nodes + replicas, password: password)
        defer { Task { await admin.shutdown() } }
        var ids: [String] = []
        for (index, node) in nodes.enumerated() {
            let address = RedisNodeAddress(host: "127.0.0.1", port: node.port)
            let range = ranges[index]
            _ = try await Self.expectOK(
                admin.perform(on: address, [["CLUSTER", "ADDSLOTSRANGE", String(range.lowerBound), String(range.upperBound)].buffers]))
            ids.append(try await admin.perform(on: address, [["CLUSTER", "MYID"].buffers])[0].text ?? "")
        }
        let first = RedisNodeAddress(host: "127.0.0.1", port: nodes[0].port)
        for (node, busPort) in zip(nodes + replicas, busPorts + replicaBusPorts).dropFirst() {
            _ = try await Self.expectOK(
                admin.perform(on: first, [["CLUSTER", "MEET", "127.0.0.1", String(node.port), String(busPort)].buffers]))
        }
        // The nodes agree through their gossip, which has no completion event to await: ask
        // each until it reports the whole cluster (bounded; usually a few hundred ms).
        let deadline = ContinuousClock.now + .seconds(20)
        for node in nodes {
            let address = RedisNodeAddress(host: "127.0.0.1", port: node.port)
            while true {
                let info = try await admin.perform(on: address, [["CLUSTER", "INFO"].buffers])[0].text ?? ""
                // Its slot table must list every master too: a node can say ok while another
                // master is still in handshake, and then its CLUSTER SLOTS leaves that master out.
                if info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:\(masters + replicas.count)") {
                    let slots = try await admin.perform(on: address, [["CLUSTER", "SLOTS"].buffers])[0]
                    if let map = try? RedisSlotMap.parse(clusterSlots: slots, askedHost: "127.0.0.1"), map.unservedSlots == 0,
                        map.masters.count == masters
                    {
                        break
                    }
                }
                guard ContinuousClock.now < deadline else { throw ClusterStartError(description: "cluster did not converge: \(info)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await Self.attach(replicas, perMaster: replicasPerMaster, to: nodes, ids: ids, admin: admin)
        self.nodes = nodes
        self.replicas = replicas
        self.password = password
        self.ids = ids
        self.ranges = ranges
    }

    /// A client that talks to single nodes (no routing), for setting the cluster up in tests.
    public static func admin(_ nodes: [RedisServer], password: String) -> RedisCluster {
        RedisCluster(
            configuration: .init(
                seeds: nodes.map { RedisNodeAddress(host: "127.0.0.1", port: $0.port) }, password: password, timeout: .seconds(2),
                poolSize: 1, failureThreshold: 1000))
    }

    /// A routing client for this cluster.
    public func client(timeout: Duration = .milliseconds(500), failureThreshold: Int = 3) -> RedisCluster {
        RedisCluster(
            configuration: .init(
                seeds: addresses, password: password, timeout: timeout, poolSize: 2, failureThreshold: failureThreshold,
                openDuration: .seconds(60)))
    }

    public func stop() async {
        for node in nodes + replicas { await node.stop() }
    }

    /// Makes each of `replicas` a replica of its master (`CLUSTER REPLICATE`, once it knows the
    /// master's id) and waits, bounded, until every replica's link is up and every master's
    /// `CLUSTER SLOTS` lists its replicas.
    private static func attach(
        _ replicas: [RedisServer], perMaster: Int, to masters: [RedisServer], ids: [String], admin: RedisCluster
    ) async throws {
        guard perMaster > 0 else { return }
        let deadline = ContinuousClock.now + .seconds(30)
        for (index, replica) in replicas.enumerated() {
            let address = RedisNodeAddress(host: "127.0.0.1", port: replica.port)
            let masterId = ids[index / perMaster]
            while true {
                // The replica may not have heard of the master through gossip yet.
                let reply = try await admin.perform(on: address, [["CLUSTER", "REPLICATE", masterId].buffers])[0]
                if reply == .status("OK") { break }
                guard ContinuousClock.now < deadline else { throw ClusterStartError(description: "replica not attached: \(reply)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        for replica in replicas {
            let address = RedisNodeAddress(host: "127.0.0.1", port: replica.port)
            while true {
                let info = try await admin.perform(on: address, [["INFO", "replication"].buffers])[0].text ?? ""
                if info.contains("master_link_status:up") { break }
                guard ContinuousClock.now < deadline else { throw ClusterStartError(description: "replica did not sync: \(info)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        for master in masters {
            let address = RedisNodeAddress(host: "127.0.0.1", port: master.port)
            while true {
                let slots = try await admin.perform(on: address, [["CLUSTER", "SLOTS"].buffers])[0]
                if let map = try? RedisSlotMap.parse(clusterSlots: slots, askedHost: "127.0.0.1"),
                    map.masters.count == masters.count, map.replicas.values.allSatisfy({ $0.count == perMaster }),
                    map.replicas.count == masters.count
                {
                    break
                }
                guard ContinuousClock.now < deadline else { throw ClusterStartError(description: "replicas not listed in CLUSTER SLOTS") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    private static func expectOK(_ replies: [RedisReply]) throws -> [RedisReply] {
        if case .error(let message) = replies.first { throw ClusterStartError(description: "cluster setup refused: \(message)") }
        return replies
    }
}

extension [String] {
    /// The strings as command arguments.
    public var buffers: [ByteBuffer] { map { ByteBuffer(string: $0) } }
}

/// Why a test cluster could not be set up.
struct ClusterStartError: Error, CustomStringConvertible {
    var description: String
}
