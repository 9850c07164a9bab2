import Foundation
import NIOCore
import NIOPosix
import PacaServer
import PacaTestSupport
import Testing

@testable import PacaApp

/// The repository's root: this file is `Tests/PacaAppTests/DemoOriginTests.swift`.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The demo origin of `make run`, as the README tour uses it.
@Suite("Demo origin", .timeLimit(.minutes(1)))
struct DemoOriginTests {
    static func withOrigin(_ body: (Int) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let origin = try DemoOrigin(configuration: .init(fixtures: repositoryRoot + "/fixtures", port: 0, latency: .zero), group: group)
        let address = try await origin.start()
        do {
            try await body(try #require(address.port))
        } catch {
            await origin.shutdown()
            throw error
        }
        await origin.shutdown()
    }

    /// Out of descriptors, NIO leaves a listener registered and its loop spins; the demo origin
    /// (the origin of `make run` and of the bench scripts) pauses accepting, as paca's listener.
    @Test("the listener stops accepting for a while when an accept fails for want of descriptors")
    func listenerPausesAtTheDescriptorLimit() async throws {
        let origin = try DemoOrigin(
            configuration: .init(fixtures: repositoryRoot + "/fixtures", port: 0, latency: .zero),
            group: MultiThreadedEventLoopGroup.singleton)
        try await origin.start()
        do {
            let listener = try #require(origin.listener)
            #expect(try await listener.getOption(.autoRead).get())
            // Fired and read in one task on the listener's loop, so the pause cannot end in between.
            let reading = try await listener.eventLoop.submit {
                listener.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
                return try listener.syncOptions?.getOption(.autoRead)
            }.get()
            #expect(reading == false)
        } catch {
            await origin.shutdown()
            throw error
        }
        await origin.shutdown()
    }

    @Test("writes under /api/ are accepted: POST is 201 with a Location, PUT, PATCH and DELETE are 204")
    func writesUnderAPI() async throws {
        try await Self.withOrigin { port in
            let group = MultiThreadedEventLoopGroup.singleton
            let created = try await fetch(port: port, group: group, method: "POST", path: "/api/users/1", body: #"{"note":"hi"}"#)
            #expect(created.status == 201)
            let location = try #require(created.header("location"))
            #expect(location.hasPrefix("/api/users/1/"))
            #expect(created.body == #"{"created":"\#(location)"}"#)
            let orders = try await fetch(port: port, group: group, method: "POST", path: "/api/orders", body: "{}")
            #expect(orders.status == 201, "a path without a fixture takes writes too")
            for method in ["PUT", "PATCH", "DELETE"] {
                let answer = try await fetch(port: port, group: group, method: method, path: "/api/users/1", body: "{}")
                #expect(answer.status == 204, "\(method)")
                #expect(answer.header("location") == nil)
            }
            // Outside /api/ the fixtures stay read-only.
            let refused = try await fetch(port: port, group: group, method: "POST", path: "/bench/16k.json", body: "{}")
            #expect(refused.status == 405)
            #expect(refused.header("allow") == "GET, HEAD")
        }
    }

    @Test("the README tour: a POST through paca invalidates the cached GET of the same URL")
    func postInvalidatesThroughProxy() async throws {
        try await Self.withOrigin { port in
            let harness = try await ProxyHarness.start(
                origin: nil, config: catchAll(routeExtra: #", "ttl": "60s""#), originURL: "http://127.0.0.1:\(port)")
            do {
                #expect(try await harness.get("/api/users/1").cacheStatus.contains("fwd=uri-miss"))
                #expect(try await harness.get("/api/users/1").cacheStatus.contains("hit"))
                let post = try await harness.request("POST", "/api/users/1", body: #"{"note":"hi"}"#)
                #expect(post.status == 201)
                #expect(post.cacheStatus.contains("fwd=method; fwd-status=201"))
                #expect(try await harness.get("/api/users/1").cacheStatus.contains("fwd=uri-miss"), "the POST removed the entry")
            } catch {
                await harness.shutdown()
                throw error
            }
            await harness.shutdown()
        }
    }
}
