import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport
import Testing

/// `paca serve` as a user runs it (the built executable, a catch-all route with the defaults and
/// `cache-control-first`), driven through a range of caching cases, each request carrying its
/// own `X-Request-Id`. The origin records the ids it receives: every request that must reach the
/// origin does so exactly once (no retry, nothing dropped or duplicated), and none of the others
/// does.
@Suite("paca serve: every request id reaches the origin at most once", .timeLimit(.minutes(1)))
struct RequestIdConformanceTests {
    /// One request and whether it must reach the origin.
    struct Case: Sendable {
        var note: String
        var method = "GET"
        var path: String
        var headers: [(String, String)] = []
        var body: String?
        var reachesOrigin: Bool
    }

    static let cases: [Case] = [
        Case(note: "RFC 9111 §3: a miss is fetched", path: "/fresh", reachesOrigin: true),
        Case(note: "RFC 9111 §4.2: a fresh hit is not", path: "/fresh", reachesOrigin: false),
        Case(
            note: "RFC 9111 §5.2.1.4: a client's no-cache revalidates", path: "/fresh", headers: [("Cache-Control", "no-cache")],
            reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.5: no-store is fetched", path: "/no-store", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.5: ...and fetched again", path: "/no-store", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.7: private is not stored by a shared cache", path: "/private", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.7: ...so it is fetched again", path: "/private", reachesOrigin: true),
        Case(note: "RFC 9111 §4.3: max-age=0 with an ETag is stored", path: "/validated", reachesOrigin: true),
        Case(note: "RFC 9111 §4.3.1: the stale entry is revalidated, once", path: "/validated", reachesOrigin: true),
        Case(
            note: "RFC 9110 §9.3.3: POST passes through once, never retried", method: "POST", path: "/form", body: "a=1",
            reachesOrigin: true),
        Case(note: "RFC 9111 §4.4: ...and invalidates the URI", path: "/form", reachesOrigin: true),
        Case(note: "RFC 9110 §15.6.4: a 503 is passed on, not retried", path: "/unavailable", reachesOrigin: true),
        Case(note: "RFC 9110 §15.6.4: ...and not stored", path: "/unavailable", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.4: PUT passes through once", method: "PUT", path: "/fresh", body: "x", reachesOrigin: true),
        Case(note: "RFC 9111 §4.4: ...and the PUT invalidated /fresh", path: "/fresh", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.5: DELETE passes through once", method: "DELETE", path: "/thing", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.7: OPTIONS passes through once", method: "OPTIONS", path: "/thing", reachesOrigin: true),
        Case(note: "RFC 9111 §4.1: a Vary variant is fetched", path: "/vary", headers: [("Accept-Language", "fr")], reachesOrigin: true),
        Case(note: "RFC 9111 §4.1: the same variant hits", path: "/vary", headers: [("Accept-Language", "fr")], reachesOrigin: false),
        Case(note: "RFC 9111 §4.1: another variant is fetched", path: "/vary", headers: [("Accept-Language", "de")], reachesOrigin: true),
        Case(
            note: "RFC 9110 §9.3.2: HEAD of a stored GET is a hit", method: "HEAD", path: "/vary", headers: [("Accept-Language", "de")],
            reachesOrigin: false),
        Case(
            note: "RFC 9111 §5.2.1.7: only-if-cached never reaches the origin", path: "/never",
            headers: [("Cache-Control", "only-if-cached")], reachesOrigin: false),
    ]

    @Test("each case's request id reaches the origin exactly once when it must, never otherwise")
    func requestIds() async throws {
        let origin = try await TestOrigin { seen in
            switch seen.uri {
            case "/fresh", "/form", "/thing": return .init(headers: [("Cache-Control", "max-age=600")], body: "fresh")
            case "/no-store": return .init(headers: [("Cache-Control", "no-store")], body: "no")
            case "/private": return .init(headers: [("Cache-Control", "private, max-age=600")], body: "mine")
            case "/validated":
                if seen.header("if-none-match") == "\"v1\"" {
                    return .init(status: 304, headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=0")])
                }
                return .init(headers: [("Cache-Control", "max-age=0"), ("ETag", "\"v1\"")], body: "validated")
            case "/unavailable": return .init(status: 503, body: "down")
            case "/vary": return .init(headers: [("Cache-Control", "max-age=600"), ("Vary", "Accept-Language")], body: "varies")
            default: return .init(status: 404)
            }
        }
        defer { Task { await origin.shutdown() } }
        let config = """
            { "listen": "127.0.0.1:PORT",
              "routes": [ { "name": "all", "match": "/*", "origin": "\(origin.url)", "ttl_source": "cache-control-first" } ] }
            """
        let serve = try await LiveServe.start(config: config)
        defer { Task { await serve.stop() } }
        let group = MultiThreadedEventLoopGroup.singleton
        var expected: [String] = []
        for (index, test) in Self.cases.enumerated() {
            let id = "req-\(index)"
            let response = try await fetch(
                port: serve.port, group: group, method: test.method, path: test.path, headers: test.headers + [("X-Request-Id", id)],
                body: test.body)
            #expect(response.status != 0, "\(test.note)")
            if test.reachesOrigin { expected.append(id) }
            let seen = origin.requests.compactMap { $0.header("x-request-id") }
            #expect(seen == expected, "after \(id) (\(test.note)): the origin saw \(seen)")
        }
        await serve.stop()
        let ids = origin.requests.compactMap { $0.header("x-request-id") }
        #expect(ids.count == Set(ids).count, "an id reached the origin twice: \(ids)")
        #expect(origin.requests.count == ids.count, "a request reached the origin without its id")
    }
}
