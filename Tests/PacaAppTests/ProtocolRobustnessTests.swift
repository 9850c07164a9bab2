import NIOCore
import PacaTestSupport
import Testing

@Suite("The listener refuses malformed, oversized and smuggling requests")
struct ProtocolRobustnessTests {
    static func withProxy(_ body: (ProxyHarness, TestOrigin) async throws -> Void) async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "ok") }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(#", "server": { "max_header_bytes": "8KB", "max_body_bytes": "1KB" }"#))
        do {
            try await body(proxy, origin)
        } catch {
            await proxy.shutdown()
            await origin.shutdown()
            throw error
        }
        await proxy.shutdown()
        await origin.shutdown()
    }

    /// Sends `raw`, expects one response with `status`, then the connection closed.
    static func expectRefused(_ proxy: ProxyHarness, _ raw: String, status: Int) async throws {
        let connection = try await proxy.connect()
        try await connection.send(raw)
        let response = try await connection.readResponse()
        #expect(response.status == status, "for \(raw.debugDescription)")
        #expect(response.header("connection") == "close")
        #expect(try await connection.isClosedByPeer())
    }

    @Test("a malformed request line gets 400 and the connection is closed")
    func malformedRequestLine() async throws {
        try await Self.withProxy { proxy, origin in
            try await Self.expectRefused(proxy, "GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n", status: 400)
            try await Self.expectRefused(proxy, "NOT A REQUEST\r\n\r\n", status: 400)
            #expect(origin.requestCount == 0)
        }
    }

    @Test("an oversized header gets 431")
    func oversizedHeader() async throws {
        try await Self.withProxy { proxy, origin in
            let big = String(repeating: "a", count: 10_000)
            try await Self.expectRefused(proxy, "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: \(big)\r\n\r\n", status: 431)
            #expect(origin.requestCount == 0)
        }
    }

    @Test("an oversized body gets 413 before it is read")
    func oversizedBody() async throws {
        try await Self.withProxy { proxy, origin in
            try await Self.expectRefused(proxy, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", status: 413)
            let chunk = String(repeating: "b", count: 800)
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n",
                status: 413)
            #expect(origin.requestCount == 0)
        }
    }

    @Test("request smuggling shapes are refused with 400 and never forwarded")
    func smuggling() async throws {
        try await Self.withProxy { proxy, origin in
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", status: 400)
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", status: 400)
            try await Self.expectRefused(proxy, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", status: 400)
            #expect(origin.requestCount == 0)
        }
    }

    @Test("a transfer coding other than chunked gets 501, chunked twice 400; neither reaches the origin")
    func transferCodings() async throws {
        try await Self.withProxy { proxy, origin in
            // NIO's decoder frames these by their chunks; the body would reach the origin still
            // gzip-coded, with paca's framing and no coding named.
            for codings in ["gzip, chunked", "x-custom, chunked", "identity, chunked", "gzip;q=1, chunked"] {
                try await Self.expectRefused(
                    proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(codings)\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 501)
            }
            // The same list on two field lines.
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 501)
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400)
            try await Self.expectRefused(
                proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                status: 400)
            try await Self.expectRefused(proxy, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", status: 400)
            #expect(origin.requestCount == 0)

            // One `chunked`, in any case and with spaces, is read and forwarded.
            let connection = try await proxy.connect()
            try await connection.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(origin.requestCount == 1)
        }
    }

    @Test("malformed heads from the public suites (h1spec, smuggler) get 400 and never reach the origin")
    func publicSuiteShapes() async throws {
        try await Self.withProxy { proxy, origin in
            let refused = [
                "GET / \r\n\r\n",  // no version
                "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
                "Extra lineGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a\r\n\rSome-Header: Test\r\n\r\n",  // CR alone
                "GET / HTTP/1.1\r\nHost: a\r\nX-Invalid[]: test\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: test\u{07}\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -123456789123456789123456789\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: identity\r\n\r\n0\r\n\r\n",
            ]
            for raw in refused {
                try await Self.expectRefused(proxy, raw, status: 400)
            }
            #expect(origin.requestCount == 0)
        }
    }

    @Test("connections beyond server.max_connections are closed at once; the others keep working")
    func connectionLimit() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "ok") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "server": { "max_connections": 2 }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let first = try await proxy.connect()
        let second = try await proxy.connect()
        try await first.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await first.readResponse().status == 200)
        try await second.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await second.readResponse().status == 200)
        let third = try await proxy.connect()
        #expect(try await third.readUntilClosed().isEmpty)
        try await first.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await first.readResponse().status == 200)
        await first.close()
        await second.close()
    }

    @Test("a client that trickles its request head gets 408 and is disconnected; a slow body is not cut")
    func slowHead() async throws {
        let origin = try await TestOrigin { seen in TestOrigin.Reply(body: "got \(seen.body.count)") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "server": { "request_head_timeout": "1s" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let slow = try await proxy.connect()
        try await slow.send("GET /slow HTTP/1.1\r\nHost: a\r\nX-Part: ")
        let response = try await slow.readResponse()
        #expect(response.status == 408)
        #expect(try await slow.isClosedByPeer())
        #expect(origin.requestCount == 0)

        // A complete head in time, then a body that arrives in two parts: answered normally.
        let upload = try await proxy.connect()
        try await upload.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
        try await upload.send("cd")
        #expect(try await upload.readResponse().body == "got 4")
        await upload.close()
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleTimeout() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "ok") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(#", "server": { "idle_timeout": "5s" }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        // The client gives up (closes) after 60 s; the server closes after its 5 s idle timeout.
        // The bound below tells the two apart with room for a loaded machine, where a full run
        // beside compiles once took over 9 s to see the close. The idle timeout also runs before
        // the first request, and a test process can stall for longer than it between its connect
        // and its send (a fresh clone's first `make test`, every suite starting at once on two
        // cores, stalled for 10 s): the connection is then closed before it asks, and the test
        // connects again, up to three times.
        for attempt in 1...3 {
            let connection = try await proxy.connect(timeout: .seconds(60))
            do {
                try await connection.send("GET /i HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await connection.readResponse().status == 200)
            } catch  where attempt < 3 {
                await connection.close()
                continue
            }
            let started = ContinuousClock.now
            #expect(try await connection.isClosedByPeer())
            #expect(ContinuousClock.now - started < .seconds(45))
            return
        }
    }

    @Test("keep-alive carries several requests; HTTP/1.0 without keep-alive is closed after one")
    func keepAlive() async throws {
        try await Self.withProxy { proxy, _ in
            let connection = try await proxy.connect()
            for _ in 0..<3 {
                try await connection.send("GET /k HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await connection.readResponse().status == 200)
            }
            await connection.close()
            let old = try await proxy.connect()
            try await old.send("GET /k HTTP/1.0\r\n\r\n")
            #expect(try await old.readResponse().header("connection") == "close")
            #expect(try await old.isClosedByPeer())
            // The same with a Host (the fast path's shape, as ApacheBench sends it).
            let bench = try await proxy.connect()
            try await bench.send("GET /k HTTP/1.0\r\nHost: a\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n")
            #expect(try await bench.readResponse().header("connection") == "close")
            #expect(try await bench.isClosedByPeer())
        }
    }

    @Test(
        "an HTTP/1.0 client that asks for keep-alive is told the connection persists, and it does; HTTP/1.1 answers say nothing",
        arguments: ["GET /k HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", "GET /k HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"])
    func http10KeepAlive(request: String) async throws {
        try await Self.withProxy { proxy, _ in
            let connection = try await proxy.connect()
            for _ in 0..<3 {
                try await connection.send(request)
                let response = try await connection.readResponse()
                #expect(response.status == 200)
                #expect(response.header("connection")?.lowercased() == "keep-alive")
            }
            try await connection.send("GET /k HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await connection.readResponse().header("connection") == nil)
            await connection.close()
        }
    }
}
