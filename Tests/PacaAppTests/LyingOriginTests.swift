import PacaTestSupport
import Testing

/// Origins that break HTTP: the client gets a clear 502, nothing broken is stored, the proxy
/// keeps serving.
@Suite("Origins that lie", .timeLimit(.minutes(1)))
struct LyingOriginTests {
    @Test(
        "a broken origin answer is a 502 and is never stored",
        arguments: [
            "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\nonly twenty bytes...",
            "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n",
            "NOT HTTP AT ALL\r\n\r\n",
            "",
        ])
    func brokenAnswers(reply: String) async throws {
        let origin = try await RawOrigin(reply: reply)
        let proxy = try await ProxyHarness.start(origin: nil, config: catchAll(), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for _ in 0..<2 {
            let response = try await proxy.get("/lie")
            #expect(response.status == 502, "for \(reply.debugDescription)")
            #expect(response.headers("cache-status").isEmpty)
        }
        #expect(proxy.app.memory.statistics().entries == 0)
    }

    @Test("an origin that sends more than the route's limit gives 502, and the next request still works")
    func oversizedAnswer() async throws {
        let body = String(repeating: "z", count: 4096)
        let origin = try await RawOrigin(reply: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let proxy = try await ProxyHarness.start(
            origin: nil, config: catchAll(routeExtra: #", "max_body_bytes": "1KB""#), originURL: origin.url)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let response = try await proxy.get("/big")
        #expect(response.status == 502)
        #expect(response.body.contains("larger than"))
        #expect(try await proxy.get("/big").status == 502)
    }
}
