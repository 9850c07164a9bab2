import Foundation
import Logging
import NIOPosix
import PacaApp
import PacaCore
import PacaTestSupport
import Synchronization
import Testing

extension CapturedLog {
    /// The start-up probe's warnings.
    var probeWarnings: [String] {
        lines(.warning).filter { $0.contains("at start-up") }
    }
}

/// `ProxyApplication.start()` asks Redis once, so a bad L3 setting is one clear warning in the
/// first lines of the log; the proxy starts and serves regardless.
@Suite("Redis probe at start-up", .timeLimit(.minutes(1)))
struct RedisStartupProbeTests {
    /// Starts an application whose L3 is `url`, runs `body` with it and its log, and stops it.
    static func withApplication(redisURL url: String, _ body: (ProxyApplication, CapturedLog) async throws -> Void) async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "ok") }
        let config = #"""
            {"listen": "127.0.0.1:0", "storage": {"l1": {"max_bytes": "8MB"}, "l3": {"url": "\#(url)", "timeout": "2s"}},
             "routes": [{"match": "/*", "origin": "\#(origin.url)"}]}
            """#
        let configuration = try ConfigurationLoader.parse(Data(config.utf8), file: "/nonexistent/routes.json")
        let log = CapturedLog()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let app = try ProxyApplication(configuration: configuration, group: group, logger: log.logger)
        do {
            try await app.start()
            try await body(app, log)
        } catch {
            await app.shutdown()
            try? await group.shutdownGracefully()
            await origin.shutdown()
            throw error
        }
        await app.shutdown()
        try? await group.shutdownGracefully()
        await origin.shutdown()
    }

    static func serves(_ app: ProxyApplication) async throws {
        let response = try await fetch(port: try #require(app.port), group: MultiThreadedEventLoopGroup.singleton, path: "/a")
        #expect(response.status == 200)
        #expect(response.body == "ok")
    }

    @Test("a wrong password is one warning at start naming the cause, without the password; the proxy still serves")
    func wrongPassword() async throws {
        let redis = try await RedisServer()
        defer { Task { await redis.stop() } }
        let wrong = "not-\(redis.password)"
        try await Self.withApplication(redisURL: "redis://:\(wrong)@127.0.0.1:\(redis.port)/0") { app, log in
            let warnings = log.probeWarnings
            #expect(warnings.count == 1, "\(warnings)")
            let warning = try #require(warnings.first)
            #expect(warning.contains("L3 Redis unusable at start-up: wrong password"))
            #expect(warning.contains("check the password in storage.l3.url"))
            #expect(warning.contains("serving from L1, L2 and the origin"))
            #expect(!warning.contains(wrong))
            try await Self.serves(app)
        }
    }

    @Test("a missing password is told apart from a wrong one")
    func missingPassword() async throws {
        let redis = try await RedisServer()
        defer { Task { await redis.stop() } }
        try await Self.withApplication(redisURL: "redis://127.0.0.1:\(redis.port)/0") { _, log in
            let warnings = log.probeWarnings
            #expect(warnings.count == 1, "\(warnings)")
            #expect(warnings.first?.contains("Redis wants a password") == true, "\(warnings)")
        }
    }

    @Test("an unreachable Redis is one warning at start; the proxy still serves")
    func unreachable() async throws {
        let port = ClosedPort()
        try await Self.withApplication(redisURL: "redis://127.0.0.1:\(port.port)") { app, log in
            let warnings = log.probeWarnings
            #expect(warnings.count == 1, "\(warnings)")
            #expect(warnings.first?.contains("cannot connect to 127.0.0.1:\(port.port)") == true, "\(warnings)")
            try await Self.serves(app)
        }
    }

    @Test("the right password: no warning, one info line")
    func rightPassword() async throws {
        let redis = try await RedisServer()
        defer { Task { await redis.stop() } }
        try await Self.withApplication(redisURL: redis.url) { _, log in
            #expect(log.probeWarnings.isEmpty, "\(log.lines(.warning))")
            #expect(log.lines(.info).contains { $0.contains("L3 Redis reachable") })
        }
    }
}
