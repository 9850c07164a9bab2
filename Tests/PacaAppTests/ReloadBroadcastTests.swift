import Foundation
import Logging
import PacaRedis
import PacaTestSupport
import Synchronization
import Testing

@testable import PacaApp

/// `POST /reload` with `{"all": true}` across nodes sharing one real `redis-server`: every node
/// re-reads its own configuration file; a node whose file is broken keeps its old one and counts
/// the refusal (issue 13, "a config reload can be broadcast").
@Suite("Reload broadcast across nodes (real Redis)", .serialized, .timeLimit(.minutes(1)))
struct ReloadBroadcastTests {
    static func config(redis: RedisServer, namespace: String) -> String {
        catchAll(
            #", "admin": { "listen": "127.0.0.1:0" }, "storage": { "l1": { "max_bytes": "8MB" }, "l3": { "url": "\#(redis.url)", "namespace": "\#(namespace)", "timeout": "500ms" } }"#
        )
    }

    static func reloads(_ proxy: ProxyHarness) async throws -> [String: Int] {
        let response = try await AdminPurgeTests.admin(proxy, "GET", "/stats")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        return try #require(stats["reloads"] as? [String: Int])
    }

    /// A `redis-server`, an origin and two nodes on them, in a namespace of their own, and the
    /// nodes' config.
    static func twoNodes() async throws -> (RedisServer, TestOrigin, ProxyHarness, ProxyHarness, config: String) {
        let redis = try await RedisServer()
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: "ok") }
        let config = Self.config(redis: redis, namespace: "reload-\(UUID().uuidString.prefix(8))")
        let a = try await ProxyHarness.start(origin: origin, config: config)
        let b = try await ProxyHarness.start(origin: origin, config: config)
        return (redis, origin, a, b, config)
    }

    static func narrowRoutes(_ proxy: ProxyHarness) throws {
        let file = proxy.directory + "/routes.json"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "\"match\": \"/*\"", with: "\"match\": \"/only/*\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
    }

    @Test("a reload broadcast through A makes B re-read its own file; A reloads once, not twice")
    func broadcastReachesTheOtherNode() async throws {
        let (redis, origin, a, b, _) = try await Self.twoNodes()
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }
        // Both have read the (absent) generation: a broadcast from now on is news to them.
        await a.app.syncReloads()
        await b.app.syncReloads()
        try Self.narrowRoutes(b)
        #expect(try await b.get("/elsewhere").status == 200)

        let answer = try await AdminPurgeTests.admin(a, "POST", "/reload", json: #"{"all": true}"#)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(answer.body.contains("\"broadcast\":1"), "\(answer.body)")
        // B reads the generation every second in service; here on demand, so no waiting.
        await b.app.syncReloads()
        #expect(try await b.get("/elsewhere").status == 404)
        #expect(try await b.get("/only/here").status == 200)
        #expect(try await Self.reloads(b) == ["applied": 1, "refused": 0, "broadcasts_sent": 0, "broadcasts_received": 1])
        // A reloaded when asked, and does not reload again on reading its own broadcast.
        #expect(await a.app.syncReloads() == false)
        #expect(try await Self.reloads(a) == ["applied": 1, "refused": 0, "broadcasts_sent": 1, "broadcasts_received": 0])
        #expect(try await a.get("/elsewhere").status == 200)
    }

    /// The real Redis generation, with a chosen moment between the `INCR` answering and the
    /// announcer learning the new generation: the window a node's own background sync can fall
    /// in.
    final class AnnounceWindow: ReloadChannel {
        let tier: RedisTier
        let inWindow = Mutex<(@Sendable () async -> Void)?>(nil)

        init(_ tier: RedisTier) { self.tier = tier }

        func announceReload() async throws -> Int64 {
            let generation = try await tier.announceReload()
            if let inWindow = inWindow.withLock({ $0 }) { await inWindow() }
            return generation
        }

        func reloadGeneration() async throws -> Int64 { try await tier.reloadGeneration() }
    }

    @Test("a sync that reads this node's own broadcast before the announce returns does not reload a second time")
    func ownBroadcastReadInTheWindow() async throws {
        let redis = try await RedisServer()
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "ok") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(""))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }
        let window = AnnounceWindow(RedisTier(configuration: try .init(url: redis.url, namespace: "reload-window")))
        let sync = ReloadSync(redis: window, reloader: proxy.app.reloader, logger: Logger(label: "test"))
        #expect(await sync.sync() == false)  // the baseline
        let sawGeneration = Mutex<Int64?>(nil)
        window.inWindow.withLock {
            $0 = {
                let generation = try? await window.tier.reloadGeneration()
                sawGeneration.withLock { $0 = generation }
                #expect(await sync.sync() == false)
            }
        }

        guard case .success = await sync.reloadEverywhere() else {
            Issue.record("the reload was refused")
            return
        }
        #expect(sawGeneration.withLock { $0 } == 1)  // the sync in the window read the new generation
        #expect(await sync.sync() == false)
        #expect(proxy.app.reloader.counters.snapshot() == .init(applied: 1, refused: 0, broadcastsSent: 1, broadcastsReceived: 0))
    }

    @Test("a node whose file is broken keeps serving its running configuration and counts the refusal")
    func brokenFileOnTheOtherNodeIsRefused() async throws {
        let (redis, origin, a, b, config) = try await Self.twoNodes()
        defer {
            Task {
                await a.shutdown(); await b.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }
        await a.app.syncReloads()
        await b.app.syncReloads()
        try "{ \"listen\": ".write(toFile: b.directory + "/routes.json", atomically: true, encoding: .utf8)

        #expect(try await AdminPurgeTests.admin(a, "POST", "/reload", json: #"{"all": true}"#).status == 200)
        await b.app.syncReloads()
        #expect(try await b.get("/anything").status == 200)
        #expect(try await Self.reloads(b) == ["applied": 0, "refused": 1, "broadcasts_sent": 0, "broadcasts_received": 1])

        // Broken on the node asked: refused there with the reason, and still broadcast.
        try "{ \"listen\": ".write(toFile: a.directory + "/routes.json", atomically: true, encoding: .utf8)
        try config.replacingOccurrences(of: "\"match\": \"/*\"", with: "\"match\": \"/only/*\"")
            .replacingOccurrences(of: "ORIGIN", with: origin.url)
            .write(toFile: b.directory + "/routes.json", atomically: true, encoding: .utf8)
        let refused = try await AdminPurgeTests.admin(a, "POST", "/reload", json: #"{"all": true}"#)
        #expect(refused.status == 422)
        #expect(refused.body.contains("still broadcast"), "\(refused.body)")
        await b.app.syncReloads()
        #expect(try await b.get("/elsewhere").status == 404)
    }

    @Test("{\"all\": true} without L3 and a malformed body are refused with a reason")
    func badRequests() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "ok") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "admin": { "listen": "127.0.0.1:0" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let noL3 = try await AdminPurgeTests.admin(proxy, "POST", "/reload", json: #"{"all": true}"#)
        #expect(noL3.status == 400)
        #expect(noL3.body.contains("storage.l3"))
        #expect(try await AdminPurgeTests.admin(proxy, "POST", "/reload", json: #"{"all": "yes"}"#).status == 400)
        #expect(try await AdminPurgeTests.admin(proxy, "POST", "/reload", json: #"{"everywhere": true}"#).status == 400)
        #expect(try await AdminPurgeTests.admin(proxy, "POST", "/reload", json: #"{"all": false}"#).status == 200)
    }
}
