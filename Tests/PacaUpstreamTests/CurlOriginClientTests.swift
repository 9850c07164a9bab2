import NIOCore
import NIOPosix
import PacaCore
import PacaTestSupport
import PacaUpstream
import Testing

@Suite("libcurl origin client against a real in-process origin")
struct CurlOriginClientTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    @Test("a GET returns status, headers and body; the request carries our fields and no curl defaults")
    func basicGet() async throws {
        let origin = try await TestOrigin { seen in
            TestOrigin.Reply(status: 203, headers: [("X-Answer", "42"), ("Cache-Control", "max-age=5")], body: "body of \(seen.uri)")
        }
        let client = CurlOriginClient(clock: ManualWallClock(start: 1_000))
        defer { client.shutdown() }
        let response = try await client.fetch(
            OriginRequest(method: "GET", url: origin.url + "/a?b=1", headers: [.init(name: "X-Test", value: "yes")]),
            on: Self.group.next()
        ).get()
        #expect(response.status == 203)
        #expect(String(buffer: response.body) == "body of /a?b=1")
        #expect(response.headers.first("x-answer") == "42")
        #expect(response.requestTime == 1_000)
        let seen = try #require(origin.requests.first)
        #expect(seen.header("x-test") == "yes")
        #expect(seen.header("accept") == nil)
        #expect(seen.header("expect") == nil)
        #expect(seen.header("host") == "127.0.0.1:\(origin.port)")
        await origin.shutdown()
    }

    @Test("request bodies are sent with their method")
    func bodies() async throws {
        let origin = try await TestOrigin { seen in TestOrigin.Reply(body: "\(seen.method):\(seen.body)") }
        let client = CurlOriginClient()
        defer { client.shutdown() }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let response = try await client.fetch(
                OriginRequest(method: method, url: origin.url + "/x", body: ByteBuffer(string: "payload-\(method)")), on: Self.group.next()
            ).get()
            #expect(String(buffer: response.body) == "\(method):payload-\(method)")
        }
        #expect(origin.requests.allSatisfy { $0.header("content-type") == nil })
        await origin.shutdown()
    }

    @Test("a response over the size limit fails with responseTooLarge")
    func sizeLimit() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: String(repeating: "x", count: 10_000)) }
        let client = CurlOriginClient()
        defer { client.shutdown() }
        await #expect(throws: OriginError.responseTooLarge(limit: 1000)) {
            try await client.fetch(OriginRequest(method: "GET", url: origin.url + "/big", maxResponseBytes: 1000), on: Self.group.next())
                .get()
        }
        await origin.shutdown()
    }

    @Test("a silent origin times out; a closed port fails to connect")
    func failures() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(hang: true) }
        let client = CurlOriginClient()
        defer { client.shutdown() }
        let error = await #expect(throws: OriginError.self) {
            try await client.fetch(
                OriginRequest(method: "GET", url: origin.url + "/hang", totalTimeout: .milliseconds(200)), on: Self.group.next()
            ).get()
        }
        if case .timedOut = error {} else { Issue.record("expected a timeout, got \(String(describing: error))") }
        await origin.shutdown()
        let closed = ClosedPort()
        let refused = await #expect(throws: OriginError.self) {
            try await client.fetch(OriginRequest(method: "GET", url: closed.url + "/"), on: Self.group.next()).get()
        }
        if case .connectFailed = refused {} else { Issue.record("expected connectFailed, got \(String(describing: refused))") }
    }

    @Test("many concurrent transfers all complete on the one transfer thread")
    func concurrency() async throws {
        let origin = try await TestOrigin { seen in TestOrigin.Reply(body: seen.uri, delay: .milliseconds(20)) }
        let client = CurlOriginClient()
        defer { client.shutdown() }
        let bodies = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<200 {
                group.addTask {
                    String(
                        buffer: try await client.fetch(OriginRequest(method: "GET", url: origin.url + "/n\(index)"), on: Self.group.next())
                            .get().body)
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(bodies == Set((0..<200).map { "/n\($0)" }))
        await origin.shutdown()
    }

    @Test("after shutdown, fetches fail with shutDown instead of hanging")
    func afterShutdown() async throws {
        let client = CurlOriginClient()
        client.shutdown()
        await #expect(throws: OriginError.shutDown) {
            try await client.fetch(OriginRequest(method: "GET", url: "http://127.0.0.1:1/"), on: Self.group.next()).get()
        }
    }
}
