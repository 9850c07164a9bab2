import Foundation
import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// Coalescing across nodes (issue 13, "several nodes as one"): two real proxies on one real
/// Redis (or one real Redis Cluster) take a short lock per key in L3, so a herd of misses for one
/// slow URL spread over both nodes makes one origin request; with Redis down each node still
/// coalesces on its own, and a lock whose holder died delays a miss at most the lock timeout.
@Suite("Coalescing across nodes (real Redis, real cluster)", .serialized, .timeLimit(.minutes(2)))
struct CrossNodeCoalescingTests {
    /// An origin that answers every GET after `delay`, cacheable unless the path says `nostore`.
    static func slowOrigin(delay: TimeAmount = .milliseconds(300)) async throws -> TestOrigin {
        try await TestOrigin { seen in
            let cacheControl = seen.uri.contains("nostore") ? "no-store" : "max-age=600"
            return TestOrigin.Reply(headers: [("Cache-Control", cacheControl)], body: "slow \(seen.uri)", delay: delay)
        }
    }

    static func config(l3: String, lockTimeout: String = "3s") -> String {
        catchAll(
            #", "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2" }, "l3": { \#(l3), "namespace": "paca-herd", "timeout": "500ms", "lock_timeout": "\#(lockTimeout)" } }"#
        )
    }

    /// `count` concurrent GETs of `path`, alternating between the nodes.
    static func herd(_ path: String, count: Int, over nodes: [ProxyHarness]) async throws -> [TestResponse] {
        try await withThrowingTaskGroup(of: TestResponse.self) { group in
            for index in 0..<count {
                let node = nodes[index % nodes.count]
                group.addTask { try await node.get(path) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    static func sharedFill(_ node: ProxyHarness, _ name: String) -> Int {
        node.app.engine.statistics.snapshot().sharedFill[name] ?? 0
    }

    /// The herd on two nodes: one origin request, every answer the body; the node that lost the
    /// lock served the other's entry from L3.
    static func expectOneOriginRequest(_ a: ProxyHarness, _ b: ProxyHarness, _ origin: TestOrigin, path: String) async throws {
        let responses = try await Self.herd(path, count: 50, over: [a, b])
        #expect(responses.count == 50)
        #expect(responses.allSatisfy { $0.status == 200 && $0.body == "slow \(path)" })
        #expect(origin.requests.filter { $0.uri == path }.count == 1)
        #expect(Self.sharedFill(a, "waited") + Self.sharedFill(b, "waited") == 1)
        #expect(Self.sharedFill(a, "served") + Self.sharedFill(b, "served") == 1)
        #expect(responses.filter { $0.cacheStatus.contains("detail=l3") }.count >= 1)
    }

    @Test("50 concurrent misses for one slow URL, split across two nodes on one Redis, make one origin request")
    func herdOnOneRedis() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.slowOrigin()
        let config = Self.config(l3: #""url": "\#(redis.url)""#)
        let a = try await ProxyHarness.start(origin: origin, config: config)
        let b = try await ProxyHarness.start(origin: origin, config: config)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        try await Self.expectOneOriginRequest(a, b, origin, path: "/herd/one")
        // And again for a second URL: the lock of the first was released, nothing left behind.
        try await Self.expectOneOriginRequestAgain(a, b, origin, path: "/herd/two")
    }

    /// As `expectOneOriginRequest`, for a later herd (the counters add up).
    static func expectOneOriginRequestAgain(_ a: ProxyHarness, _ b: ProxyHarness, _ origin: TestOrigin, path: String) async throws {
        let responses = try await Self.herd(path, count: 50, over: [a, b])
        #expect(responses.allSatisfy { $0.status == 200 && $0.body == "slow \(path)" })
        #expect(origin.requests.filter { $0.uri == path }.count == 1)
    }

    /// Two nodes on `cluster` (its seeds and password), with more `l3` fields from `l3`.
    static func twoNodes(on cluster: RedisClusterServer, origin: TestOrigin, l3: String = "") async throws -> (ProxyHarness, ProxyHarness) {
        let seeds = cluster.addresses.map { "\"\($0)\"" }.joined(separator: ", ")
        let config = Self.config(l3: #""cluster": [\#(seeds)], "password_env": "PACA_TEST_CLUSTER_PASSWORD"\#(l3)"#)
        let environment = ["PACA_TEST_CLUSTER_PASSWORD": cluster.password]
        let a = try await ProxyHarness.start(origin: origin, config: config, environment: environment)
        let b = try await ProxyHarness.start(origin: origin, config: config, environment: environment)
        return (a, b)
    }

    @Test("50 concurrent misses for one slow URL, split across two nodes on a 3-master Redis Cluster, make one origin request")
    func herdOnACluster() async throws {
        let cluster = try await RedisClusterServer()
        let origin = try await Self.slowOrigin()
        let (a, b) = try await Self.twoNodes(on: cluster, origin: origin)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await cluster.stop()
            }
        }

        try await Self.expectOneOriginRequest(a, b, origin, path: "/herd/cluster")
        // Keys on every master: each herd still makes one origin request.
        for index in 0..<4 { try await Self.expectOneOriginRequestAgain(a, b, origin, path: "/herd/c\(index)") }
    }

    @Test(
        "with read_from_replicas on a cluster with replicas, the herd still makes one origin request and the waiting node reads a replica")
    func herdReadingReplicas() async throws {
        let cluster = try await RedisClusterServer(masters: 3, replicasPerMaster: 1)
        let origin = try await Self.slowOrigin()
        let (a, b) = try await Self.twoNodes(on: cluster, origin: origin, l3: #", "read_from_replicas": true"#)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await cluster.stop()
            }
        }

        try await Self.expectOneOriginRequest(a, b, origin, path: "/herd/replicas")
        for index in 0..<3 { try await Self.expectOneOriginRequestAgain(a, b, origin, path: "/herd/r\(index)") }
        // The lookups (the waiting node's among them) went to replicas.
        let admin = RedisClusterServer.admin(cluster.replicas, password: cluster.password)
        defer { Task { await admin.shutdown() } }
        var replicaGets = 0
        for address in cluster.replicaAddresses {
            let info = try await admin.perform(on: address, [["INFO", "commandstats"].buffers])[0].text ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_get:") } ?? ""
            replicaGets += line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0
        }
        #expect(replicaGets > 0)
    }

    @Test("without the lock (coalesce_lock: false) the same herd makes one origin request per node: the lock is what saves the second")
    func herdWithoutTheLock() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.slowOrigin()
        let config = catchAll(
            #", "storage": { "l1": { "max_bytes": "8MB" }, "l3": { "url": "\#(redis.url)", "namespace": "paca-herd", "timeout": "500ms", "coalesce_lock": false } }"#
        )
        let a = try await ProxyHarness.start(origin: origin, config: config)
        let b = try await ProxyHarness.start(origin: origin, config: config)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        let responses = try await Self.herd("/herd/unlocked", count: 50, over: [a, b])
        #expect(responses.allSatisfy { $0.status == 200 })
        #expect(origin.requestCount == 2)
    }

    @Test("with Redis down, both nodes still answer every request, each coalescing on its own: at most two origin requests")
    func redisDown() async throws {
        let closed = ClosedPort()
        let origin = try await Self.slowOrigin()
        let config = Self.config(l3: #""url": "redis://127.0.0.1:\#(closed.port)""#, lockTimeout: "20s")
        let a = try await ProxyHarness.start(origin: origin, config: config)
        let b = try await ProxyHarness.start(origin: origin, config: config)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown()
            }
        }

        let started = ContinuousClock.now
        let responses = try await Self.herd("/herd/down", count: 50, over: [a, b])
        #expect(responses.count == 50)
        #expect(responses.allSatisfy { $0.status == 200 && $0.body == "slow /herd/down" })
        #expect(origin.requestCount <= 2)
        #expect(Self.sharedFill(a, "unavailable") + Self.sharedFill(b, "unavailable") >= 1)
        #expect(Self.sharedFill(a, "waited") + Self.sharedFill(b, "waited") == 0)
        // Nobody waited on Redis: the herd took about one origin delay, not a 20 s lock timeout.
        #expect(started.duration(to: .now) < .seconds(10))
    }

    @Test("a lock left by a holder that died delays a miss at most the lock timeout; then the node fetches, once for its whole herd")
    func deadHolder() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.slowOrigin(delay: .milliseconds(50))
        let a = try await ProxyHarness.start(origin: origin, config: Self.config(l3: #""url": "\#(redis.url)""#, lockTimeout: "600ms"))
        let tier = RedisTier(configuration: try RedisTier.Configuration(url: redis.url, namespace: "paca-herd"))
        defer {
            Task {
                await a.shutdown(); await tier.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        // Another node took the lock (with a longer lock timeout of its own) and died.
        let key = try #require(a.app.engine.primaryKey(forURL: "/herd/dead"))
        let lockKey = RedisFillLock(tier: tier).lockKey(for: key)
        try await tier.ping()
        _ = try await tier.send(key: lockKey, [["SET", lockKey, "token-of-a-dead-node", "PX", "60000"].buffers])

        let started = ContinuousClock.now
        let responses = try await Self.herd("/herd/dead", count: 10, over: [a])
        let elapsed = started.duration(to: .now)
        #expect(responses.allSatisfy { $0.status == 200 && $0.body == "slow /herd/dead" })
        #expect(origin.requestCount == 1)
        // At least the 600 ms lock timeout, far less than the dead lock's 60 s expiry.
        #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(6), "\(elapsed)")
        #expect(Self.sharedFill(a, "timed_out") == 1)
        // The dead node's lock is untouched by this node's fill (its token is not ours).
        #expect(try await tier.send(key: lockKey, [["GET", lockKey].buffers])[0].text == "token-of-a-dead-node")
    }

    @Test("an answer that may not be stored ends the other node's wait at once (pass marker), not after the lock timeout")
    func passAnswerStopsTheWait() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.slowOrigin()
        let config = Self.config(l3: #""url": "\#(redis.url)""#, lockTimeout: "30s")
        let a = try await ProxyHarness.start(origin: origin, config: config)
        let b = try await ProxyHarness.start(origin: origin, config: config)
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        let started = ContinuousClock.now
        let responses = try await Self.herd("/herd/nostore", count: 20, over: [a, b])
        #expect(responses.allSatisfy { $0.status == 200 })
        // Well under the 30 s lock timeout: the waiting node fetched as soon as the marker appeared.
        #expect(started.duration(to: .now) < .seconds(15))
        #expect(Self.sharedFill(a, "timed_out") + Self.sharedFill(b, "timed_out") == 0)
        #expect(Self.sharedFill(a, "passed") + Self.sharedFill(b, "passed") >= 1)
    }
}
