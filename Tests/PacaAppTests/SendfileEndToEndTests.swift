import Foundation
import NIOCore
import PacaApp
import PacaTestSupport
import Testing

/// L1 hits with large bodies sent with `sendfile` from an in-memory mirror, through the real
/// listener: the bytes on the wire are exactly the stored body, on keep-alive, pipelined and
/// closing connections, and the mirrors stay within their budget.
@Suite("sendfile hits end to end", .timeLimit(.minutes(1)))
struct SendfileEndToEndTests {
    /// 200,000 bytes that differ at every offset a wrong region would show (not a repeated unit
    /// that lines up with page or chunk sizes).
    static let large: String = {
        var text = ""
        text.reserveCapacity(200_000)
        var line = 0
        while text.utf8.count < 200_000 {
            text += String(format: "%07d:%@\n", line, String(repeating: Character(UnicodeScalar(65 + line % 26)!), count: line % 61))
            line += 1
        }
        return String(text.utf8.prefix(200_000))!
    }()

    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            let body = seen.uri.hasPrefix("/small") ? "small body" : large
            return TestOrigin.Reply(headers: [("Cache-Control", "max-age=600"), ("ETag", "\"v1\"")], body: body)
        }
    }

    static func config(_ l1: String = "") -> String {
        catchAll(#", "admin": { "listen": "127.0.0.1:0" }, "storage": { "l1": { "max_bytes": "64MB" \#(l1) } }"#)
    }

    @Test("a large L1 hit is sent from its mirror, byte for byte; HEAD, Range and 304 are answered as before")
    func largeHit() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let harness = try await ProxyHarness.start(origin: origin, config: Self.config())
        defer { Task { await harness.shutdown() } }
        let budget = harness.app.engine.sendfileBudget

        let miss = try await harness.get("/big")
        #expect(miss.cacheStatus.contains("stored"))
        #expect(miss.body == Self.large)
        for _ in 0..<3 {
            let hit = try await harness.get("/big")
            #expect(hit.cacheStatus.contains("hit"))
            #expect(hit.header("content-length") == "200000")
            #expect(hit.body == Self.large)
        }
        #expect(budget.bytesHeld == 200_000, "one mirror for the entry, made by its first hit")
        let stats = try await AdminPurgeTests.admin(harness, "GET", "/stats")
        #expect(stats.body.contains(#""sendfile_bytes":200000"#), "\(stats.body)")
        let metrics = try await AdminPurgeTests.admin(harness, "GET", "/metrics")
        #expect(metrics.body.contains("paca_sendfile_mirror_bytes 200000"), "\(metrics.body.prefix(2000))")

        let head = try await harness.request("HEAD", "/big")
        #expect(head.header("content-length") == "200000")
        #expect(head.body.isEmpty)
        let range = try await harness.get("/big", headers: [("Range", "bytes=100000-100009")])
        #expect(range.status == 206)
        #expect(range.body == String(Self.large.utf8.dropFirst(100_000).prefix(10))!)
        let notModified = try await harness.get("/big", headers: [("If-None-Match", "\"v1\"")])
        #expect(notModified.status == 304)
        #expect(notModified.body.isEmpty)
        #expect(origin.requests.count == 1)

        let small = try await harness.get("/small")
        #expect(small.body == "small body")
        #expect(try await harness.get("/small").body == "small body")
        #expect(budget.bytesHeld == 200_000, "bodies under sendfile_min_bytes are written from memory")
    }

    @Test("pipelined hits and a hit on a closing connection carry the whole body, in order")
    func pipelinedAndClosing() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        let harness = try await ProxyHarness.start(origin: origin, config: Self.config())
        defer { Task { await harness.shutdown() } }
        _ = try await harness.get("/big")

        let connection = try await harness.connect()
        let request = "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        try await connection.send(request + "GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + request)
        let first = try await connection.readResponse()
        let second = try await connection.readResponse()
        let third = try await connection.readResponse()
        #expect(first.body == Self.large)
        #expect(second.body == "small body")
        #expect(third.body == Self.large)
        #expect(third.cacheStatus.contains("hit"))
        await connection.close()

        let closing = try await harness.connect()
        try await closing.send("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let raw = try await closing.readUntilClosedBytes()
        #expect(raw.count > 200_000)
        #expect(Array(raw.suffix(200_000)) == Array(Self.large.utf8), "the body ends the stream, then the connection closes")
        #expect(harness.app.engine.sendfileBudget.bytesHeld == 200_000)
    }

    @Test("sendfile_min_bytes 0 turns it off; a budget too small for the body leaves it in memory")
    func offAndOverBudget() async throws {
        let origin = try await Self.origin()
        defer { Task { await origin.shutdown() } }
        for l1 in [#", "sendfile_min_bytes": 0"#, #", "sendfile_max_bytes": "100KB""#] {
            let harness = try await ProxyHarness.start(origin: origin, config: Self.config(l1))
            _ = try await harness.get("/big")
            let hit = try await harness.get("/big")
            #expect(hit.cacheStatus.contains("hit"))
            #expect(hit.body == Self.large)
            #expect(harness.app.engine.sendfileBudget.bytesHeld == 0, "\(l1)")
            await harness.shutdown()
        }
    }
}
