import PacaTestSupport
import Testing

/// RFC 9110 §15.2 through the real listener and libcurl: an origin's interim responses reach an
/// HTTP/1.1 client ahead of the final answer, never an HTTP/1.0 one, and are never stored.
@Suite("Interim (1xx) responses end to end", .timeLimit(.minutes(1)))
struct InterimResponsesEndToEndTests {
    static let earlyHints =
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

    @Test("a miss relays the 103 with its Link; the 200 and the stored entry carry no Link; a hit sends no 103")
    func earlyHintsOnAMiss() async throws {
        let origin = try await RawOrigin(reply: Self.earlyHints)
        let proxy = try await ProxyHarness.start(origin: nil, config: catchAll(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let connection = try await proxy.connect()
        try await connection.send("GET /page HTTP/1.1\r\nHost: example.test\r\n\r\n")
        let hints = try await connection.readResponse()
        #expect(hints.status == 103)
        #expect(hints.header("link") == "</style.css>; rel=preload; as=style")
        let final = try await connection.readResponse()
        #expect(final.status == 200)
        #expect(final.body == "hello")
        #expect(final.header("link") == nil)
        #expect(final.cacheStatus.contains("stored"))

        // The stored entry is the final block alone: the hit has no Link and no interim answer.
        try await connection.send("GET /page HTTP/1.1\r\nHost: example.test\r\n\r\n")
        let hit = try await connection.readResponse()
        #expect(hit.status == 200)
        #expect(hit.cacheStatus.contains("hit"))
        #expect(hit.header("link") == nil)
        await connection.close()
        #expect(proxy.app.memory.statistics().entries == 1)
    }

    @Test("an HTTP/1.0 client never sees the 103, only the final 200")
    func noInterimForHTTP10() async throws {
        let origin = try await RawOrigin(reply: Self.earlyHints)
        let proxy = try await ProxyHarness.start(origin: nil, config: catchAll(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let connection = try await proxy.connect()
        try await connection.send("GET /old HTTP/1.0\r\nHost: example.test\r\n\r\n")
        let text = try await connection.readUntilClosed()
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!text.contains("103"))
        #expect(!text.lowercased().contains("link:"))
        #expect(text.hasSuffix("hello"))
    }

    @Test("pass-through relays 102 and 103 in order, drops the origin's 100, and the final fields are its own")
    func passThroughRelaysInOrder() async throws {
        let reply =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
            + "HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nX-Interim: yes\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        let origin = try await RawOrigin(reply: reply)
        let proxy = try await ProxyHarness.start(origin: nil, config: catchAll(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let connection = try await proxy.connect()
        try await connection.send("POST /things HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\nhi")
        let processing = try await connection.readResponse()
        #expect(processing.status == 102)
        let hints = try await connection.readResponse()
        #expect(hints.status == 103)
        #expect(hints.header("link") == "</a.js>; rel=preload")
        let final = try await connection.readResponse()
        #expect(final.status == 201)
        #expect(final.body == "ok")
        #expect(final.header("link") == nil)
        #expect(final.header("x-interim") == nil)
        await connection.close()
    }

    @Test("Expect: 100-continue gets exactly one 100 (paca's), even when the origin sends its own")
    func oneContinue() async throws {
        let reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let origin = try await RawOrigin(reply: reply)
        let proxy = try await ProxyHarness.start(origin: nil, config: catchAll(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let connection = try await proxy.connect()
        try await connection.send("POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        let interim = try await connection.readResponse()
        #expect(interim.status == 100)
        try await connection.send("hi")
        let final = try await connection.readResponse()
        #expect(final.status == 200)
        #expect(final.body == "ok")
        await connection.close()
    }
}
