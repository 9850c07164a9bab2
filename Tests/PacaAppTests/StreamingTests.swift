import Foundation
import NIOCore
import PacaTestSupport
import Testing

/// DESIGN.md §3 "Bodies stream, memory is bounded": bodies pass through as they arrive, with
/// backpressure both ways, and large cacheable answers go to L2 on the way.
@Suite("Bodies stream both ways", .timeLimit(.minutes(1)))
struct StreamingTests {
    static let mib = 1 << 20

    /// A route in front of `origin` with a small L1 entry limit, and an L2 when `disk` is set.
    /// Asks for `path`, reads its `length`-byte answer to the end and returns once the cache's
    /// writes (the L2 file of a large answer) have landed.
    static func fetchWhole(_ path: String, length: Int, through proxy: ProxyHarness) async throws {
        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await client.readHead()
        _ = try await client.readBodyToEnd(length: length)
        await client.close()
        await proxy.app.cache.flushWrites()
    }

    static func config(disk: Bool = false, l2MaxEntry: String = "64MB") -> String {
        let l2 = disk ? #", "l2": { "path": "cache", "max_bytes": "256MB", "max_entry_bytes": "\#(l2MaxEntry)" }"# : ""
        return catchAll(
            #", "storage": { "l1": { "max_bytes": "8MB", "max_entry_bytes": "64KB" }\#(l2) }, "server": { "max_body_bytes": "64MB" }"#)
    }

    @Test("the first bytes reach the client while the origin is still sending; every byte arrives intact")
    func firstByteBeforeOriginFinishes() async throws {
        let origin = try await StreamingOrigin(
            .init(size: 16 * Self.mib, headers: [("Cache-Control", "no-store")], holdAfter: 1 * Self.mib))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = try await client.readHead()
        #expect(head.status == 200)
        #expect(head.headers.first { $0.0.lowercased() == "content-length" }?.1 == String(16 * Self.mib))
        let early = try await client.readBody(atLeast: 512 << 10)
        // The origin is held after 1 MiB until released: what arrived cannot have waited for
        // the whole body.
        #expect(early >= 512 << 10)
        #expect(origin.finished == 0)
        origin.release()
        let result = try await client.readBodyToEnd(length: 16 * Self.mib)
        #expect(result.bytes == 16 * Self.mib)
        #expect(result.intact)
        await client.close()
    }

    @Test("a client that stops reading pauses the origin transfer (CURL_WRITEFUNC_PAUSE); reading again resumes it to the end")
    func slowReaderPausesOrigin() async throws {
        let size = 64 * Self.mib
        let origin = try await StreamingOrigin(.init(size: size, headers: [("Cache-Control", "no-store")]))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let upstream = try #require(proxy.app.originClient)

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await client.readHead()
        try await client.readBody(atLeast: 1)
        // The client reads no more: once the socket buffers and the transfer's window are full,
        // the transfer pauses instead of reading the origin into memory.
        await upstream.waitForPauses(1)
        let sentAtPause = origin.sent
        #expect(origin.finished == 0)
        #expect(sentAtPause < 32 * Self.mib, "origin had sent \(sentAtPause) bytes at the pause")
        // Reading again resumes the transfer to the end.
        let result = try await client.readBodyToEnd(length: size)
        #expect(result.bytes == size)
        #expect(result.intact)
        await client.close()
    }

    @Test("an answer of unknown length streams to the client chunked")
    func unknownLengthIsChunked() async throws {
        let origin = try await StreamingOrigin(.init(size: 3 * Self.mib + 17, headers: [("Cache-Control", "max-age=60")], chunked: true))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = try await client.readHead()
        #expect(head.headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1 == "chunked" })
        let result = try await client.readBodyToEnd(length: nil)
        #expect(result.bytes == 3 * Self.mib + 17)
        #expect(result.intact)
        await client.close()
    }

    @Test("a cacheable answer too large for L1 is written to L2 as it streams; the next request is an l2 hit sent from the file")
    func largeObjectGoesToDisk() async throws {
        let size = 8 * Self.mib
        let origin = try await StreamingOrigin(.init(size: size, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"big\"")]))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: true), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for round in 0..<3 {
            let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
            try await client.send("GET /large HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try await client.readHead()
            let cacheStatus = head.headers.first { $0.0.lowercased() == "cache-status" }?.1 ?? ""
            if round == 0 {
                #expect(cacheStatus.hasPrefix("paca; fwd=uri-miss; fwd-status=200; stored"))
            } else {
                #expect(cacheStatus.hasPrefix("paca; hit;") && cacheStatus.hasSuffix("detail=l2"), "round \(round): \(cacheStatus)")
            }
            #expect(head.headers.first { $0.0.lowercased() == "content-length" }?.1 == String(size))
            let result = try await client.readBodyToEnd(length: size)
            #expect(result.bytes == size)
            #expect(result.intact)
            await client.close()
            if round == 0 { await proxy.app.cache.flushWrites() }
        }
        #expect(origin.requests == 1)
        // Never promoted into L1: it is over L1's entry limit.
        #expect(proxy.app.memory.statistics().bytes < 1 * Self.mib)
    }

    @Test("a revalidating client's If-None-Match gets 304 from a large L2 entry")
    func largeObjectConditional() async throws {
        let origin = try await StreamingOrigin(.init(size: 2 * Self.mib, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"big\"")]))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: true), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        try await Self.fetchWhole("/large", length: 2 * Self.mib, through: proxy)
        let second = try await proxy.get("/large", headers: [("If-None-Match", "\"big\"")])
        #expect(second.status == 304)
        #expect(second.cacheStatus.hasSuffix("detail=l2"))
    }

    @Test("a Range request on a large L2 entry gets a 206 of just that range from the file; past the end, a 416")
    func largeObjectRange() async throws {
        let size = 2 * Self.mib
        let origin = try await StreamingOrigin(.init(size: size, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"big\"")]))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: true), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        try await Self.fetchWhole("/large", length: size, through: proxy)

        // The range starts at a multiple of the pattern's period, so its bytes read as the
        // pattern from 0 and `intact` checks every one.
        let start = 251 * 1000
        let count = 251 * 40
        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET /large HTTP/1.1\r\nHost: a\r\nRange: bytes=\(start)-\(start + count - 1)\r\n\r\n")
        let head = try await client.readHead()
        let field = { (name: String) in head.headers.first { $0.0.lowercased() == name }?.1 }
        #expect(head.status == 206)
        #expect(field("cache-status")?.hasSuffix("detail=l2") == true)
        #expect(field("content-range") == "bytes \(start)-\(start + count - 1)/\(size)")
        #expect(field("content-length") == String(count))
        let result = try await client.readBodyToEnd(length: count)
        #expect(result.bytes == count && result.intact)
        await client.close()

        let past = try await proxy.get("/large", headers: [("Range", "bytes=\(size)-")])
        #expect(past.status == 416)
        #expect(past.header("content-range") == "bytes */\(size)")
        #expect(origin.requests == 1)
    }

    @Test("an answer over L2's entry limit streams through uncached (too-large)")
    func overTheDiskLimitPassesThrough() async throws {
        let origin = try await StreamingOrigin(.init(size: 4 * Self.mib, headers: [("Cache-Control", "max-age=60")]))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(disk: true, l2MaxEntry: "1MB"), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("GET /huge HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = try await client.readHead()
        #expect(head.headers.first { $0.0.lowercased() == "cache-status" }?.1.contains("detail=too-large") == true)
        let result = try await client.readBodyToEnd(length: 4 * Self.mib)
        #expect(result.bytes == 4 * Self.mib && result.intact)
        await client.close()
    }

    @Test("a request body streams to the origin: it has the first bytes before the client has sent the rest")
    func uploadStreams() async throws {
        let size = 32 * Self.mib
        let origin = try await StreamingOrigin(.init(size: 0))
        let proxy = try await ProxyHarness.start(origin: nil, config: Self.config(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\n\r\n")
        try await client.send(BodyPattern.bytes(from: 0, count: Self.mib))
        // The rest has not been sent: the origin can only have these bytes if they streamed.
        await origin.wait { _, _, _, received in received >= Self.mib }
        var position = Self.mib
        while position < size {
            let count = min(4 * Self.mib, size - position)
            try await client.send(BodyPattern.bytes(from: position, count: count))
            position += count
        }
        let head = try await client.readHead()
        #expect(head.status == 200)
        #expect(origin.received.bytes == size)
        #expect(origin.received.intact)
        await client.close()
    }

    @Test("a chunked request body over server.max_body_bytes gets 413 and never completes at the origin")
    func oversizedChunkedUpload() async throws {
        let origin = try await StreamingOrigin(.init(size: 0))
        let proxy = try await ProxyHarness.start(
            origin: nil, config: catchAll(#", "server": { "max_body_bytes": "1MB" }"#), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let client = try await StreamingClient.connect(port: proxy.port, group: proxy.group)
        try await client.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for index in 0..<3 {
            var chunk = ByteBuffer(string: String(Self.mib / 2, radix: 16) + "\r\n")
            chunk.writeImmutableBuffer(BodyPattern.bytes(from: index * Self.mib / 2, count: Self.mib / 2))
            chunk.writeString("\r\n")
            try? await client.send(chunk)
        }
        let head = try await client.readHead()
        #expect(head.status == 413)
        #expect(origin.received.bytes < 2 * Self.mib)
        await client.close()
    }
}
