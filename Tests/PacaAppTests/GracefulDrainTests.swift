import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport
import Testing

/// SIGTERM on a real `paca serve` (issue 13, "graceful operations"): the listener closes, idle
/// keep-alive connections are closed, requests in flight finish (answered with
/// `Connection: close`, so no client or balancer reuses a dying connection), their access-log
/// lines and L2 writes land, and the process exits 0; the grace period bounds the wait.
@Suite("paca serve drains on SIGTERM", .timeLimit(.minutes(1)))
struct GracefulDrainTests {
    static func config(origin: TestOrigin, grace: String) -> String {
        """
        { "listen": "127.0.0.1:PORT", "server": { "shutdown_grace": "\(grace)" },
          "storage": { "l1": { "max_bytes": "8MB" }, "l2": { "path": "l2" } },
          "access_log": { "path": "access.log" },
          "routes": [ { "name": "all", "match": "/*", "origin": "\(origin.url)", "timeout": "30s" } ] }
        """
    }

    @Test("a slow request in flight at SIGTERM completes with 200 and its log line while new connections are refused")
    func slowRequestInFlightCompletes() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=600")], body: "body of \(seen.uri)",
                delay: seen.uri == "/slow" ? .milliseconds(1500) : .zero)
        }
        defer { Task { await origin.shutdown() } }
        let serve = try await LiveServe.start(config: Self.config(origin: origin, grace: "20s"))
        defer {
            Task {
                await serve.stop(); try? FileManager.default.removeItem(atPath: serve.directory)
            }
        }
        let group = MultiThreadedEventLoopGroup.singleton

        let idle = try await RawConnection.connect(port: serve.port, group: group)
        try await idle.send("GET /fast HTTP/1.1\r\nHost: paca\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)
        let slow = try await RawConnection.connect(port: serve.port, group: group)
        try await slow.send("GET /slow HTTP/1.1\r\nHost: paca\r\n\r\n")
        await origin.waitForRequests(2)  // the slow request is at the origin: in flight

        serve.terminate()
        // The drain closes the idle keep-alive connection (after closing the listener).
        #expect(try await idle.isClosedByPeer())
        await #expect(throws: (any Error).self) {
            let late = try await RawConnection.connect(port: serve.port, group: group, timeout: .seconds(2))
            await late.close()
        }
        let response = try await slow.readResponse()
        #expect(response.status == 200)
        #expect(response.body == "body of /slow")
        #expect(response.header("Connection")?.lowercased() == "close")
        #expect(try await slow.isClosedByPeer())
        #expect(await serve.exited() == LiveServe.Exit(status: 0, bySignal: false))

        let log = try String(contentsOfFile: serve.directory + "/access.log", encoding: .utf8)
        let records = log.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let slowRecord = records.first { ($0["url"] as? String)?.hasSuffix("/slow") == true }
        #expect(slowRecord?["status"] as? Int == 200, "access log: \(log)")

        // The answer's L2 write landed before the exit: a new process on the same directory
        // serves it from L2 without asking the origin.
        let again = try await LiveServe.start(config: Self.config(origin: origin, grace: "20s"), directory: serve.directory)
        defer { Task { await again.stop() } }
        let served = try await fetch(port: again.port, group: group, path: "/slow")
        #expect(served.header("Cache-Status")?.contains("detail=l2") == true, "\(served.headers)")
        #expect(origin.requestCount == 2)
        #expect(await again.stop() == LiveServe.Exit(status: 0, bySignal: false))
    }

    @Test("the grace period bounds the drain: a request the origin never answers does not keep the process alive")
    func graceBoundsTheDrain() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(hang: true) }
        defer { Task { await origin.shutdown() } }
        let serve = try await LiveServe.start(config: Self.config(origin: origin, grace: "1s"))
        defer {
            Task {
                await serve.stop(); try? FileManager.default.removeItem(atPath: serve.directory)
            }
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let stuck = try await RawConnection.connect(port: serve.port, group: group)
        try await stuck.send("GET /never HTTP/1.1\r\nHost: paca\r\n\r\n")
        await origin.waitForRequests(1)

        let start = ContinuousClock.now
        #expect(await serve.stop() == LiveServe.Exit(status: 0, bySignal: false))
        // 1 s of grace, then the stuck connection is closed and the process exits (it took 10 s
        // when the stop awaited close futures in a task group).
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(try await stuck.isClosedByPeer())
    }
}
