import PacaTestSupport
import Testing

/// Issue 11, classes 2, 9 and 12 through the real proxy against an in-process origin that
/// records what it received. Each table row names the RFC section it checks.
@Suite("RFC edge cases end to end", .timeLimit(.minutes(1)))
struct EdgeCasesEndToEndTests {
    struct FreshnessRow: Sendable {
        let rfc: String
        let note: String
        let headers: [(String, String)]
        /// Whether the stored entry is still fresh for the next request (served without the origin).
        let fresh: Bool
        /// The `ttl` the first answer's `Cache-Status` reports, when the row checks it.
        var ttl: Int?
    }

    /// Class 2: `Age`, `Expires` and `max-age` at the edges of their grammar (RFC 9111 §4.2.1,
    /// §4.2.3, §5.1, §5.2, §5.3). Every response carries an `ETag`, so it is stored either way.
    static let freshnessRows: [FreshnessRow] = [
        FreshnessRow(rfc: "9111 §5.2.2.1", note: "valid max-age", headers: [("Cache-Control", "max-age=100")], fresh: true, ttl: 100),
        FreshnessRow(rfc: "9111 §4.2.1, §1.2.2", note: "max-age=100a", headers: [("Cache-Control", "max-age=100a")], fresh: false),
        FreshnessRow(rfc: "9111 §4.2.1, §1.2.2", note: "max-age=a100", headers: [("Cache-Control", "max-age=a100")], fresh: false),
        FreshnessRow(rfc: "9111 §4.2.1, §1.2.2", note: "max-age=1.5", headers: [("Cache-Control", "max-age=1.5")], fresh: false),
        FreshnessRow(rfc: "9111 §4.2.1, §5.2", note: "spaces around =", headers: [("Cache-Control", "max-age = 100")], fresh: false),
        FreshnessRow(
            rfc: "9111 §4.2.1", note: "conflicting duplicate max-age", headers: [("Cache-Control", "max-age=100, max-age=200")],
            fresh: false),
        FreshnessRow(
            rfc: "9111 §4.2.1", note: "conflicting max-age on two lines",
            headers: [("Cache-Control", "max-age=100"), ("Cache-Control", "max-age=200")], fresh: false),
        FreshnessRow(rfc: "9111 §5.3", note: "Expires: 0", headers: [("Expires", "0")], fresh: false),
        FreshnessRow(rfc: "9111 §5.3", note: "Expires not an HTTP-date", headers: [("Expires", "next week")], fresh: false),
        FreshnessRow(
            rfc: "9111 §5.1", note: "Age with trailing garbage is ignored",
            headers: [("Cache-Control", "max-age=100"), ("Age", "30abc")], fresh: true, ttl: 100),
        FreshnessRow(
            rfc: "9111 §5.1", note: "Age with leading garbage is ignored",
            headers: [("Cache-Control", "max-age=100"), ("Age", "x30")], fresh: true, ttl: 100),
        FreshnessRow(
            rfc: "9111 §5.1", note: "Age with a parameter is ignored",
            headers: [("Cache-Control", "max-age=100"), ("Age", "30;a=b")], fresh: true, ttl: 100),
        FreshnessRow(
            rfc: "9111 §5.1", note: "Age list: the first member counts",
            headers: [("Cache-Control", "max-age=100"), ("Age", "30, 90")], fresh: true, ttl: 70),
        FreshnessRow(
            rfc: "9111 §5.1", note: "two Age lines: the first counts",
            headers: [("Cache-Control", "max-age=100"), ("Age", "30"), ("Age", "150")], fresh: true, ttl: 70),
        FreshnessRow(
            rfc: "9111 §4.2.3", note: "a valid Age older than max-age makes it stale",
            headers: [("Cache-Control", "max-age=100"), ("Age", "150")], fresh: false),
    ]

    @Test("class 2: invalid Age, Expires and max-age values are stored with the freshness RFC 9111 gives them")
    func parsingAtTheEdges() async throws {
        let rows = Self.freshnessRows
        let origin = try await TestOrigin { seen in
            let index = Int(seen.uri.split(separator: "/").last ?? "") ?? 0
            return TestOrigin.Reply(headers: rows[index].headers + [("ETag", "\"e\"")], body: "row \(index)")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for (index, row) in rows.enumerated() {
            let path = "/edge/\(index)"
            let first = try await proxy.get(path)
            #expect(first.status == 200, "RFC \(row.rfc): \(row.note)")
            #expect(first.cacheStatus.contains("stored"), "RFC \(row.rfc): \(row.note): \(first.cacheStatus)")
            if let ttl = row.ttl {
                #expect(first.cacheStatus.hasSuffix("ttl=\(ttl)"), "RFC \(row.rfc): \(row.note): \(first.cacheStatus)")
            }
            let second = try await proxy.get(path)
            let originSaw = origin.requests.filter { $0.uri == path }.count
            if row.fresh {
                #expect(second.cacheStatus.contains("hit"), "RFC \(row.rfc): \(row.note): \(second.cacheStatus)")
                #expect(originSaw == 1, "RFC \(row.rfc): \(row.note)")
            } else {
                #expect(second.cacheStatus.contains("fwd=stale"), "RFC \(row.rfc): \(row.note): \(second.cacheStatus)")
                #expect(originSaw == 2, "RFC \(row.rfc): \(row.note)")
            }
        }
    }

    struct ReloadRow: Sendable {
        let rfc: String
        let note: String
        let responseCacheControl: String
        let request: (String, String)
        /// `honor_immutable` on the route; `nil` leaves the default.
        var honorImmutable: Bool?
        let answeredFromCache: Bool
    }

    /// Class 9: a client's reload of a fresh `immutable` response (RFC 8246 §2).
    static let reloadRows: [ReloadRow] = [
        ReloadRow(
            rfc: "8246 §2", note: "no-cache reload of a fresh immutable entry", responseCacheControl: "max-age=3600, immutable",
            request: ("Cache-Control", "no-cache"), answeredFromCache: true),
        ReloadRow(
            rfc: "8246 §2", note: "max-age=0 reload of a fresh immutable entry", responseCacheControl: "max-age=3600, immutable",
            request: ("Cache-Control", "max-age=0"), answeredFromCache: true),
        ReloadRow(
            rfc: "8246 §2, 9111 §5.4", note: "Pragma: no-cache reload of a fresh immutable entry",
            responseCacheControl: "max-age=3600, immutable", request: ("Pragma", "no-cache"), answeredFromCache: true),
        ReloadRow(
            rfc: "9111 §5.2.1.4", note: "no-cache reload of an entry without immutable", responseCacheControl: "max-age=3600",
            request: ("Cache-Control", "no-cache"), answeredFromCache: false),
        ReloadRow(
            rfc: "8246 §2", note: "honor_immutable: false sends the reload to the origin",
            responseCacheControl: "max-age=3600, immutable", request: ("Cache-Control", "no-cache"), honorImmutable: false,
            answeredFromCache: false),
    ]

    @Test("class 9: a reload of a fresh immutable entry is answered from the cache, unless the route says honor_immutable: false")
    func immutableReloads() async throws {
        for row in Self.reloadRows {
            let origin = try await TestOrigin { _ in
                TestOrigin.Reply(headers: [("Cache-Control", row.responseCacheControl), ("ETag", "\"i\"")], body: "asset")
            }
            let routeExtra = row.honorImmutable.map { #", "honor_immutable": \#($0)"# } ?? ""
            let proxy = try await ProxyHarness.start(origin: origin, config: catchAll(routeExtra: routeExtra))
            _ = try await proxy.get("/asset.js")
            let reload = try await proxy.get("/asset.js", headers: [row.request])
            await proxy.shutdown()
            await origin.shutdown()
            #expect(reload.status == 200, "RFC \(row.rfc): \(row.note)")
            #expect(reload.body == "asset", "RFC \(row.rfc): \(row.note)")
            if row.answeredFromCache {
                #expect(reload.cacheStatus.contains("hit"), "RFC \(row.rfc): \(row.note): \(reload.cacheStatus)")
                #expect(origin.requestCount == 1, "RFC \(row.rfc): \(row.note)")
            } else {
                #expect(reload.cacheStatus.contains("fwd=request"), "RFC \(row.rfc): \(row.note): \(reload.cacheStatus)")
                #expect(origin.requestCount == 2, "RFC \(row.rfc): \(row.note)")
            }
        }
    }

    struct RefusalRow: Sendable {
        let rfc: String
        let note: String
        let raw: String
    }

    /// Class 12: requests a server must answer 400 and never forward.
    static let refusalRows: [RefusalRow] = [
        RefusalRow(rfc: "9112 §3.2", note: "two Host lines", raw: "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2", note: "two equal Host lines", raw: "GET /x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2", note: "HTTP/1.1 without Host", raw: "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 9110 §7.2", note: "Host with a path", raw: "GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 9110 §7.2", note: "Host with a space", raw: "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 9110 §7.2", note: "Host with a bad port", raw: "GET /x HTTP/1.1\r\nHost: a:80x\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 9110 §7.2", note: "Host with userinfo", raw: "GET /x HTTP/1.1\r\nHost: u@a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 3986 §3.2.2", note: "unclosed IP-literal Host", raw: "GET /x HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        RefusalRow(rfc: "9110 §4.2.1", note: "http URI with an empty host", raw: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9110 §4.2.1", note: "http URI with a port and no host", raw: "GET http://:80/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 3986 §3.3", note: "backslash in the target", raw: "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 3986 §3.5", note: "# in the target", raw: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 3986 §3.3", note: "non-ASCII in the path", raw: "GET /caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n"),
        RefusalRow(rfc: "9112 §3.2, 3986 §3.4", note: "non-ASCII in the query", raw: "GET /a?q=\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n"),
    ]

    @Test("class 12: invalid Host fields and request-targets are answered 400 and never reach the origin")
    func requestMUSTs() async throws {
        try await ProtocolRobustnessTests.withProxy { proxy, origin in
            for row in Self.refusalRows {
                try await ProtocolRobustnessTests.expectRefused(proxy, row.raw, status: 400)
                #expect(origin.requestCount == 0, "RFC \(row.rfc): \(row.note) reached the origin")
            }
            // Valid neighbours still pass: a port, an IP-literal, HTTP/1.0 without Host.
            for raw in [
                "GET /ok HTTP/1.1\r\nHost: a:8080\r\nConnection: close\r\n\r\n",
                "GET /ok HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
                "GET /ok HTTP/1.0\r\n\r\n",
            ] {
                let connection = try await proxy.connect()
                try await connection.send(raw)
                let response = try await connection.readResponse()
                #expect(response.status == 200, "for \(raw.debugDescription)")
            }
        }
    }
}
