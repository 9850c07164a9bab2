import PacaTestSupport
import Testing

/// RFC 9111 §4.3.4 through the real proxy: when several responses are stored for one URL
/// (variants under `Vary`), a revalidation asks about all of them and a 304 updates the one its
/// validator selects — or none.
@Suite("Several stored responses per key end to end", .timeLimit(.minutes(1)))
struct SeveralStoredResponsesEndToEndTests {
    @Test("a 304 naming another variant's ETag updates that variant and serves it, and the request's own key then holds it")
    func notModifiedSelectsAnotherVariant() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") != nil {
                return TestOrigin.Reply(
                    status: 304,
                    headers: [("ETag", "\"fr\""), ("Cache-Control", "max-age=10"), ("X-Fresh", "yes"), ("Vary", "Accept-Language")])
            }
            let french = seen.header("accept-language") == "fr"
            return TestOrigin.Reply(
                headers: [("ETag", french ? "\"fr\"" : "\"en\""), ("Cache-Control", "max-age=10"), ("Vary", "Accept-Language")],
                body: french ? "bonjour" : "hello")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        #expect(try await proxy.get("/v", headers: [("Accept-Language", "en")]).body == "hello")
        #expect(try await proxy.get("/v", headers: [("Accept-Language", "fr")]).body == "bonjour")
        proxy.clock.advance(by: .seconds(11))

        let revalidated = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        #expect(origin.requests.count == 3)
        #expect(origin.requests[2].header("if-none-match") == "\"en\", \"fr\"")
        #expect(revalidated.status == 200)
        #expect(revalidated.body == "bonjour")
        #expect(revalidated.header("etag") == "\"fr\"")
        #expect(revalidated.header("x-fresh") == "yes")
        #expect(revalidated.cacheStatus.contains("fwd-status=304"))
        #expect(revalidated.cacheStatus.contains("detail=other-variant"))

        // The selected variant was updated (fresh again), and this request's key now holds it.
        let french = try await proxy.get("/v", headers: [("Accept-Language", "fr")])
        #expect(french.cacheStatus.contains("hit"))
        #expect(french.body == "bonjour")
        #expect(french.header("x-fresh") == "yes")
        let english = try await proxy.get("/v", headers: [("Accept-Language", "en")])
        #expect(english.cacheStatus.contains("hit"))
        #expect(english.body == "bonjour")
        #expect(origin.requestCount == 3)
    }

    @Test("a 304 whose ETag matches no stored response updates none: the request is sent again without conditions")
    func notModifiedMatchingNothing() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") != nil {
                return TestOrigin.Reply(status: 304, headers: [("ETag", "\"de\""), ("Cache-Control", "max-age=10"), ("X-Fresh", "yes")])
            }
            let french = seen.header("accept-language") == "fr"
            return TestOrigin.Reply(
                headers: [("ETag", french ? "\"fr\"" : "\"en2\""), ("Cache-Control", "max-age=10"), ("Vary", "Accept-Language")],
                body: french ? "bonjour" : "hello again")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/n", headers: [("Accept-Language", "en")])
        _ = try await proxy.get("/n", headers: [("Accept-Language", "fr")])
        proxy.clock.advance(by: .seconds(11))

        let answer = try await proxy.get("/n", headers: [("Accept-Language", "en")])
        #expect(answer.status == 200)
        #expect(answer.body == "hello again")
        #expect(answer.header("x-fresh") == nil)
        #expect(origin.requests.count == 4)
        #expect(origin.requests[2].header("if-none-match") == "\"en2\", \"fr\"")
        #expect(origin.requests[3].header("if-none-match") == nil)
        // The French variant was not updated by the 304: still stale, so it is revalidated.
        let french = try await proxy.get("/n", headers: [("Accept-Language", "fr")])
        #expect(!french.cacheStatus.contains("hit"))
    }
}
