import Foundation
import NIOCore
import PacaTestSupport
import Synchronization
import Testing

/// Issue 11, classes 4 (HEAD), 6 (methods) and 7 (codings) through the real proxy, libcurl and
/// an in-process origin that records what it received. Each table row names the RFC section it
/// checks; time moves only by the injected clock.
@Suite("HEAD, methods and codings end to end", .timeLimit(.minutes(1)))
struct HeadMethodsCodingsEndToEndTests {
    // MARK: - Class 4: HEAD (RFC 9111 §4.3.5)

    /// What the next GET shows after the HEAD.
    enum AfterHead: Sendable, Equatable {
        /// Answered from the cache, with this `X-Version`.
        case hit(version: String)
        /// The stored entry is stale: revalidated with its `ETag`.
        case revalidates
        /// Nothing stored: a plain GET reaches the origin.
        case refetches
    }

    struct HeadRow: Sendable {
        let rfc: String
        let note: String
        /// `convert_head` on the route (default on).
        var convertHead = true
        /// Prime the cache with a GET first.
        var primed = true
        /// Let the primed entry go stale before the HEAD.
        var stale = false
        /// The origin's answer to the HEAD.
        var reply = TestOrigin.Reply()
        /// The method the origin sees for the client's HEAD.
        var originMethod = "HEAD"
        /// Whether that request carries the stored `ETag` as `If-None-Match`.
        var conditional = false
        var clientStatus = 200
        /// The client's `Content-Length`, when the row checks it.
        var clientLength: String?
        let after: AfterHead
    }

    static let refreshed = [("ETag", "\"v1\""), ("Cache-Control", "max-age=10"), ("X-Version", "2")]

    static let headRows: [HeadRow] = [
        HeadRow(
            rfc: "9111 §4.3.5, §4.3.4", note: "stale entry: a conditional HEAD answered 304 refreshes it", stale: true,
            reply: TestOrigin.Reply(status: 304, headers: refreshed), conditional: true, clientLength: "5",
            after: .hit(version: "2")),
        HeadRow(
            rfc: "9111 §4.3.5", note: "stale entry: a HEAD 200 with the same ETag and length refreshes it", stale: true,
            reply: TestOrigin.Reply(headers: refreshed + [("Content-Length", "5")]), conditional: true, clientLength: "5",
            after: .hit(version: "2")),
        HeadRow(
            rfc: "9111 §4.3.5", note: "stale entry: a HEAD 200 with another ETag leaves it stale", stale: true,
            reply: TestOrigin.Reply(headers: [("ETag", "\"v2\""), ("Content-Length", "5"), ("Cache-Control", "max-age=10")]),
            conditional: true, clientLength: "5", after: .revalidates),
        HeadRow(
            rfc: "9111 §4.3.5", note: "stale entry: a HEAD 200 with another Content-Length leaves it stale", stale: true,
            reply: TestOrigin.Reply(headers: [("ETag", "\"v1\""), ("Content-Length", "6"), ("Cache-Control", "max-age=10")]),
            conditional: true, clientLength: "6", after: .revalidates),
        HeadRow(
            rfc: "9111 §4.3.5, 9110 §15.5.11", note: "stale entry: a HEAD answered 410 removes it", stale: true,
            reply: TestOrigin.Reply(status: 410), conditional: true, clientStatus: 410, after: .refetches),
        HeadRow(
            rfc: "9111 §4.3.5, 9110 §15.5.5", note: "stale entry: a HEAD answered 404 removes it", stale: true,
            reply: TestOrigin.Reply(status: 404), conditional: true, clientStatus: 404, after: .refetches),
        HeadRow(
            rfc: "9111 §4.3.5", note: "convert_head off: a passed HEAD 200 with the same validators updates the stored GET",
            convertHead: false, reply: TestOrigin.Reply(headers: refreshed + [("Content-Length", "5")]), clientLength: "5",
            after: .hit(version: "2")),
        HeadRow(
            rfc: "9111 §4.3.5", note: "convert_head off: a passed HEAD 200 with another ETag makes the stored GET stale",
            convertHead: false, reply: TestOrigin.Reply(headers: [("ETag", "\"v2\""), ("Content-Length", "5")]), clientLength: "5",
            after: .revalidates),
        HeadRow(
            rfc: "9111 §4.3.5", note: "convert_head off: a passed HEAD answered 410 removes the stored GET", convertHead: false,
            reply: TestOrigin.Reply(status: 410), clientStatus: 410, after: .refetches),
        HeadRow(
            rfc: "9111 §4.3.5, DESIGN §3", note: "a HEAD miss is fetched as GET and stored", primed: false, originMethod: "GET",
            clientLength: "5", after: .hit(version: "1")),
        HeadRow(
            rfc: "9110 §9.3.2, 9111 §3", note: "convert_head off: a HEAD answer is never stored as the GET", convertHead: false,
            primed: false, reply: TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("Content-Length", "5")]),
            clientLength: "5", after: .refetches),
    ]

    @Test("class 4: a HEAD answer refreshes, stales or removes the stored GET, and a stale HEAD revalidates with HEAD")
    func headUpdatesStoredGet() async throws {
        let rows = Self.headRows
        let origin = try await TestOrigin { seen in
            let index = Int(seen.uri.split(separator: "/").last ?? "") ?? 0
            if seen.method == "HEAD" { return rows[index].reply }
            return TestOrigin.Reply(
                headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=10"), ("X-Version", "1")], body: "hello")
        }
        let config = """
            { "listen": "127.0.0.1:0",
              "routes": [
                { "name": "convert", "match": "/convert/*", "origin": "ORIGIN", "timeout": "5s" },
                { "name": "pass", "match": "/pass/*", "origin": "ORIGIN", "timeout": "5s", "convert_head": false } ] }
            """
        let proxy = try await ProxyHarness.start(origin: origin, config: config)
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for (index, row) in rows.enumerated() {
            let label = "RFC \(row.rfc): \(row.note)"
            let path = (row.convertHead ? "/convert/" : "/pass/") + String(index)
            if row.primed {
                let primed = try await proxy.get(path)
                #expect(primed.cacheStatus.contains("stored"), "\(label): \(primed.cacheStatus)")
            }
            if row.stale { proxy.clock.advance(by: .seconds(11)) }
            let head = try await proxy.request("HEAD", path)
            #expect(head.status == row.clientStatus, "\(label)")
            #expect(head.body.isEmpty, "\(label)")
            if let length = row.clientLength { #expect(head.header("content-length") == length, "\(label)") }
            let seen = origin.requests.filter { $0.uri == path }
            #expect(seen.last?.method == row.originMethod, "\(label)")
            #expect((seen.last?.header("if-none-match") == "\"v1\"") == row.conditional, "\(label)")
            let countAfterHead = seen.count

            let get = try await proxy.get(path)
            let later = origin.requests.filter { $0.uri == path }
            switch row.after {
            case .hit(let version):
                #expect(get.cacheStatus.contains("hit"), "\(label): \(get.cacheStatus)")
                #expect(get.header("x-version") == version, "\(label)")
                #expect(get.body == "hello", "\(label)")
                #expect(later.count == countAfterHead, "\(label)")
            case .revalidates:
                #expect(later.count == countAfterHead + 1, "\(label)")
                #expect(later.last?.method == "GET" && later.last?.header("if-none-match") == "\"v1\"", "\(label)")
            case .refetches:
                #expect(later.count == countAfterHead + 1, "\(label)")
                #expect(later.last?.method == "GET" && later.last?.header("if-none-match") == nil, "\(label)")
                #expect(get.body == "hello", "\(label)")
            }
        }
    }

    // MARK: - Class 6: methods (RFC 9110 §9.2.1, RFC 9111 §4.4)

    struct MethodRow: Sendable {
        let rfc: String
        let method: String
        var status = 200
        /// `Location` / `Content-Location` for the answer; `SELF` stands for the proxy's authority,
        /// `OTHER` for the sibling path.
        var headers: [(String, String)] = []
        /// Whether the request reaches the origin (with exactly this method).
        var forwarded = true
        var clientStatus: Int?
        let invalidatesTarget: Bool
        var invalidatesOther = false
    }

    static let methodRows: [MethodRow] = [
        MethodRow(rfc: "9111 §4.4", method: "POST", invalidatesTarget: true),
        MethodRow(
            rfc: "9111 §4.4", method: "PUT", status: 201, headers: [("Location", "other")], invalidatesTarget: true,
            invalidatesOther: true),
        MethodRow(rfc: "9111 §4.4", method: "DELETE", status: 204, invalidatesTarget: true),
        MethodRow(
            rfc: "9111 §4.4", method: "PATCH", headers: [("Content-Location", "OTHER")], invalidatesTarget: true,
            invalidatesOther: true),
        MethodRow(
            rfc: "9111 §4.4", method: "POST", status: 303, headers: [("Location", "http://SELFOTHER")], invalidatesTarget: true,
            invalidatesOther: true),
        MethodRow(rfc: "9111 §4.4, 9110 §9.2.1", method: "PURGE", invalidatesTarget: true),
        MethodRow(rfc: "9111 §4.4, 9110 §9.2.1", method: "PROPFIND", status: 207, invalidatesTarget: true),
        MethodRow(rfc: "9111 §4.4, 9110 §9.2.1", method: "M-SEARCH", invalidatesTarget: true),
        MethodRow(
            rfc: "9111 §4.4", method: "MKCOL", status: 201, headers: [("Location", "http://elsewhere.exampleOTHER")],
            invalidatesTarget: true),
        MethodRow(rfc: "9111 §4.4", method: "POST", status: 500, invalidatesTarget: false),
        MethodRow(rfc: "9111 §4.4", method: "PURGE", status: 404, invalidatesTarget: false),
        MethodRow(rfc: "9110 §9.2.1", method: "OPTIONS", invalidatesTarget: false),
        MethodRow(
            rfc: "9110 §9.1 (deviation: the listener's parser knows a fixed set of methods)", method: "BREW", forwarded: false,
            clientStatus: 400, invalidatesTarget: false),
    ]

    @Test("class 6: extension methods pass through, and every unsafe method invalidates on 2xx/3xx")
    func methodsPassAndInvalidate() async throws {
        let rows = Self.methodRows
        let authority = Mutex("")
        let origin = try await TestOrigin { seen in
            let parts = seen.uri.split(separator: "/")
            let index = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            if seen.method == "GET" { return TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "stored \(seen.uri)") }
            let host = authority.withLock { $0 }
            let headers = rows[index].headers.map { name, value in
                (name, value.replacingOccurrences(of: "SELF", with: host).replacingOccurrences(of: "OTHER", with: "/m/\(index)/other"))
            }
            return TestOrigin.Reply(status: rows[index].status, headers: headers, body: rows[index].status == 204 ? "" : "done")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        authority.withLock { $0 = "127.0.0.1:\(proxy.port)" }
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for (index, row) in rows.enumerated() {
            let label = "RFC \(row.rfc): \(row.method) \(row.status) \(row.headers)"
            let target = "/m/\(index)/doc"
            let other = "/m/\(index)/other"
            _ = try await proxy.get(target)
            _ = try await proxy.get(other)
            #expect(try await proxy.get(target).cacheStatus.contains("hit"), "\(label)")
            let answer = try await proxy.request(row.method, target)
            #expect(answer.status == row.clientStatus ?? row.status, "\(label): \(answer.body)")
            let forwarded = origin.requests.filter { $0.uri == target && $0.method == row.method }
            #expect(forwarded.count == (row.forwarded ? 1 : 0), "\(label)")
            if row.forwarded { #expect(answer.cacheStatus.contains("fwd=method"), "\(label): \(answer.cacheStatus)") }

            let targetAfter = try await proxy.get(target)
            #expect(targetAfter.cacheStatus.contains("hit") == !row.invalidatesTarget, "\(label): \(targetAfter.cacheStatus)")
            let otherAfter = try await proxy.get(other)
            #expect(otherAfter.cacheStatus.contains("hit") == !row.invalidatesOther, "\(label): \(otherAfter.cacheStatus)")
        }
    }

    @Test("class 6: a route's methods list restricts extension methods too (405 with Allow)")
    func methodsListRestricts() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(body: "ok") }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(routeExtra: #", "methods": ["GET", "HEAD", "PURGE", "M-SEARCH"]"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let refused = try await proxy.request("PROPFIND", "/x")
        #expect(refused.status == 405)
        #expect(refused.header("allow") == "GET, HEAD, M-SEARCH, PURGE")
        let purged = try await proxy.request("PURGE", "/x")
        #expect(purged.status == 200)
        let searched = try await proxy.request("M-SEARCH", "/x")
        #expect(searched.status == 200)
        #expect(origin.requests.map(\.method) == ["PURGE", "M-SEARCH"])
    }

    struct PostRow: Sendable {
        let rfc = "9110 §9.3.3"
        let note: String
        /// The route's `store_post_responses`.
        var option = true
        let headers: [(String, String)]
        let storedForGet: Bool
    }

    static let postRows: [PostRow] = [
        PostRow(
            note: "max-age and Content-Location equal to the target: stored for GET",
            headers: [("Cache-Control", "max-age=60"), ("Content-Location", "TARGET")], storedForGet: true),
        PostRow(
            note: "an absolute Content-Location on the proxy's authority counts",
            headers: [("Cache-Control", "s-maxage=60"), ("Content-Location", "http://SELFTARGET")], storedForGet: true),
        PostRow(
            note: "Expires counts as explicit freshness",
            headers: [("Expires", "EXPIRES"), ("Content-Location", "TARGET")], storedForGet: true),
        PostRow(note: "no Content-Location: not stored", headers: [("Cache-Control", "max-age=60")], storedForGet: false),
        PostRow(
            note: "Content-Location naming another URI: not stored",
            headers: [("Cache-Control", "max-age=60"), ("Content-Location", "/elsewhere")], storedForGet: false),
        PostRow(note: "no explicit freshness: not stored", headers: [("Content-Location", "TARGET")], storedForGet: false),
        PostRow(
            note: "private is never stored by a shared cache (RFC 9111 §5.2.2.7)",
            headers: [("Cache-Control", "max-age=60, private"), ("Content-Location", "TARGET")], storedForGet: false),
        PostRow(
            note: "store_post_responses off (the default): not stored", option: false,
            headers: [("Cache-Control", "max-age=60"), ("Content-Location", "TARGET")], storedForGet: false),
    ]

    @Test("class 6: with store_post_responses, a POST answer naming its own target is stored for later GETs")
    func postAnswerStoredForGet() async throws {
        let rows = Self.postRows
        let authority = Mutex("")
        let clock = Mutex<Int64>(0)
        let origin = try await TestOrigin { seen in
            let parts = seen.uri.split(separator: "/")
            let index = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            if seen.method == "GET" { return TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "old") }
            let host = authority.withLock { $0 }
            let expires = Date(timeIntervalSince1970: Double(clock.withLock { $0 }) / 1000 + 60)
            let headers = rows[index].headers.map { name, value in
                (
                    name,
                    value.replacingOccurrences(of: "SELF", with: host).replacingOccurrences(of: "TARGET", with: seen.uri)
                        .replacingOccurrences(of: "EXPIRES", with: httpDate(expires))
                )
            }
            return TestOrigin.Reply(headers: headers, body: "posted \(seen.body)")
        }
        let config = """
            { "listen": "127.0.0.1:0",
              "routes": [
                { "name": "on", "match": "/on/*", "origin": "ORIGIN", "timeout": "5s", "store_post_responses": true },
                { "name": "off", "match": "/off/*", "origin": "ORIGIN", "timeout": "5s" } ] }
            """
        let proxy = try await ProxyHarness.start(origin: origin, config: config)
        authority.withLock { $0 = "127.0.0.1:\(proxy.port)" }
        clock.withLock { $0 = proxy.clock.now() }
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        for (index, row) in rows.enumerated() {
            let label = "RFC \(row.rfc): \(row.note)"
            let target = (row.option ? "/on/" : "/off/") + "\(index)"
            _ = try await proxy.get(target)
            let posted = try await proxy.request("POST", target, headers: [("Content-Type", "text/plain")], body: "n=\(index)")
            #expect(posted.status == 200, "\(label)")
            #expect(posted.body == "posted n=\(index)", "\(label)")
            #expect(posted.cacheStatus.contains("stored") == row.storedForGet, "\(label): \(posted.cacheStatus)")
            let gets = origin.requests.filter { $0.uri == target && $0.method == "GET" }.count
            let later = try await proxy.get(target)
            if row.storedForGet {
                #expect(later.cacheStatus.contains("hit"), "\(label): \(later.cacheStatus)")
                #expect(later.body == "posted n=\(index)", "\(label)")
                #expect(origin.requests.filter { $0.uri == target && $0.method == "GET" }.count == gets, "\(label)")
            } else {
                // The POST invalidated the stored GET (RFC 9111 §4.4), and stored nothing in its place.
                #expect(later.cacheStatus.contains("fwd=uri-miss"), "\(label): \(later.cacheStatus)")
                #expect(later.body == "old", "\(label)")
            }
        }
    }

    // MARK: - Class 7: codings (RFC 9110 §8.4, RFC 9112 §6–7, RFC 9111 §3.2)

    struct CodingRow: Sendable {
        let rfc: String
        let coding: String
        let body: [UInt8]
        /// Sent by the client, or none.
        var acceptEncoding: String?
    }

    /// `gzip("hello, paca! hello, paca!\n")`.
    static let gzipBytes: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0x48, 0x4c,
        0x4e, 0x54, 0x54, 0xc8, 0x40, 0xe2, 0x70, 0x01, 0x00, 0xf1, 0x3d, 0x0d, 0xab, 0x1a, 0x00, 0x00, 0x00,
    ]

    static let codingRows: [CodingRow] = [
        CodingRow(rfc: "9110 §8.4.1.3", coding: "gzip", body: gzipBytes, acceptEncoding: "gzip"),
        CodingRow(rfc: "9110 §8.4, §12.5.3", coding: "gzip", body: gzipBytes),
        CodingRow(rfc: "9110 §8.4 (RFC 7932)", coding: "br", body: [0x8b, 0x02, 0x80, 0x68, 0x69, 0x03], acceptEncoding: "br"),
        CodingRow(rfc: "9110 §8.4 (RFC 8878)", coding: "zstd", body: [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x11, 0x00, 0x00, 0x68, 0x69]),
        CodingRow(rfc: "9110 §8.4", coding: "x-custom", body: Array(0...255).map { UInt8($0) }),
        CodingRow(rfc: "9110 §8.4", coding: "gzip, x-custom", body: Array("\r\n\r\n0\r\n\u{0}".utf8) + gzipBytes),
    ]

    @Test("class 7: a body in any content coding passes byte for byte with its fields, on the miss and on the hit")
    func contentCodingsPassUntouched() async throws {
        var origins: [RawOrigin] = []
        for row in Self.codingRows {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Encoding: \(row.coding)\r\nContent-Length: \(row.body.count)\r\n"
                + "ETag: \"e1\"\r\nVary: Accept-Encoding\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\n"
            origins.append(try await RawOrigin(replyBytes: Array(head.utf8) + row.body))
        }
        let routes = origins.enumerated().map { index, origin in
            #"{ "name": "c\#(index)", "match": "/c\#(index)/*", "origin": "\#(origin.url)", "timeout": "5s" }"#
        }
        let proxy = try await ProxyHarness.start(
            origin: nil, config: #"{ "listen": "127.0.0.1:0", "routes": [ \#(routes.joined(separator: ", ")) ] }"#)
        defer {
            let origins = origins
            Task {
                await proxy.shutdown()
                for origin in origins { await origin.shutdown() }
            }
        }

        for (index, row) in Self.codingRows.enumerated() {
            let label = "RFC \(row.rfc): Content-Encoding: \(row.coding)"
            for round in ["miss", "hit"] {
                let extra = row.acceptEncoding.map { [("Accept-Encoding", $0)] } ?? []
                let response = try await rawExchange(proxy, path: "/c\(index)/x", headers: extra)
                #expect(response.status == 200, "\(label) (\(round))")
                #expect(response.body == row.body, "\(label) (\(round)): the exact bytes")
                #expect(response.headers("content-encoding") == [row.coding], "\(label) (\(round))")
                #expect(response.headers("etag") == ["\"e1\""], "\(label) (\(round)): the ETag is not weakened")
                #expect(response.headers("vary") == ["Accept-Encoding"], "\(label) (\(round))")
                #expect(response.cacheStatus.contains(round == "miss" ? "stored" : "hit"), "\(label) (\(round)): \(response.cacheStatus)")
            }
        }
    }

    @Test("class 7: paca adds no Accept-Encoding of its own and forwards the client's as sent")
    func acceptEncodingForwardedAsSent() async throws {
        let origin = try await TestOrigin { _ in TestOrigin.Reply(headers: [("Cache-Control", "max-age=60")], body: "x") }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/ae/none")
        _ = try await proxy.get("/ae/some", headers: [("Accept-Encoding", "br;q=1.0, zstd, x-custom")])
        #expect(origin.requests[0].header("accept-encoding") == nil)
        #expect(origin.requests[1].header("accept-encoding") == "br;q=1.0, zstd, x-custom")
        #expect(origin.requests.allSatisfy { $0.header("te") == nil })
    }

    struct ChunkedRow: Sendable {
        let rfc: String
        let note: String
        /// The origin's head lines after the status line, and its framed body.
        let head: String
        let framed: String
    }

    static let chunkedRows: [ChunkedRow] = [
        ChunkedRow(rfc: "9112 §7.1", note: "chunked", head: "", framed: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        ChunkedRow(rfc: "9112 §7.1.1", note: "chunk extensions", head: "", framed: "5;a=b\r\nhello\r\n6;c\r\n world\r\n0\r\n\r\n"),
        ChunkedRow(rfc: "9112 §7.1.2", note: "a trailer section", head: "", framed: "B\r\nhello world\r\n0\r\nX-Sum: 1\r\n\r\n"),
        ChunkedRow(
            rfc: "9112 §6.3", note: "Transfer-Encoding overrides Content-Length", head: "Content-Length: 3\r\n",
            framed: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    ]

    @Test("class 7: a chunked answer reaches the client as a valid message and is stored decoded, never with Transfer-Encoding")
    func chunkedIsRemoved() async throws {
        var origins: [RawOrigin] = []
        for row in Self.chunkedRows {
            let reply =
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\(row.head)Cache-Control: max-age=60\r\nConnection: close\r\n\r\n"
                + row.framed
            origins.append(try await RawOrigin(reply: reply))
        }
        let routes = origins.enumerated().map { index, origin in
            #"{ "name": "t\#(index)", "match": "/t\#(index)/*", "origin": "\#(origin.url)", "timeout": "5s" }"#
        }
        let proxy = try await ProxyHarness.start(
            origin: nil, config: #"{ "listen": "127.0.0.1:0", "routes": [ \#(routes.joined(separator: ", ")) ] }"#)
        defer {
            let origins = origins
            Task {
                await proxy.shutdown()
                for origin in origins { await origin.shutdown() }
            }
        }

        for (index, row) in Self.chunkedRows.enumerated() {
            let label = "RFC \(row.rfc): \(row.note)"
            let miss = try await rawExchange(proxy, path: "/t\(index)/x")
            #expect(miss.status == 200, "\(label)")
            #expect(miss.body == Array("hello world".utf8), "\(label)")
            #expect(miss.cacheStatus.contains("stored"), "\(label): \(miss.cacheStatus)")
            // One framing, paca's own: a Content-Length of the real body, or chunked alone.
            let lengths = miss.headers("content-length")
            let codings = miss.headers("transfer-encoding")
            #expect(lengths == ["11"] && codings.isEmpty || lengths.isEmpty && codings == ["chunked"], "\(label): \(miss.headers)")
            #expect(miss.headers("x-sum").isEmpty, "\(label): a trailer is not a header field")

            let hit = try await rawExchange(proxy, path: "/t\(index)/x")
            #expect(hit.cacheStatus.contains("hit"), "\(label): \(hit.cacheStatus)")
            #expect(hit.body == Array("hello world".utf8), "\(label): the stored body is the decoded one")
            #expect(hit.headers("content-length") == ["11"], "\(label)")
            #expect(hit.headers("transfer-encoding").isEmpty, "\(label): Transfer-Encoding is never stored")
        }
    }

    @Test("class 7: a 304 updates the stored fields as RFC 9111 §3.2 says, keeping Content-Length and Content-Encoding")
    func notModifiedUpdatesFields() async throws {
        let origin = try await TestOrigin { seen in
            if seen.header("if-none-match") == "\"m\"" {
                return TestOrigin.Reply(
                    status: 304,
                    headers: [
                        ("ETag", "\"m\""), ("Cache-Control", "max-age=60"), ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Encoding", "identity"), ("X-A", "2"), ("X-New", "y"), ("Age", "7"),
                        ("Connection", "x-hop"), ("X-Hop", "secret"),
                    ])
            }
            return TestOrigin.Reply(
                headers: [
                    ("ETag", "\"m\""), ("Cache-Control", "max-age=1"), ("Content-Type", "text/plain"), ("Content-Encoding", "x-custom"),
                    ("X-A", "1"), ("X-Hop", "kept"),
                ], body: "abc")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/n")
        proxy.clock.advance(by: .seconds(2))
        for round in ["revalidated", "hit"] {
            let response = try await proxy.get("/n")
            #expect(response.body == "abc", "\(round)")
            #expect(response.header("content-length") == "3", "RFC 9111 §3.2: Content-Length is not updated (\(round))")
            #expect(response.header("content-type") == "text/plain; charset=utf-8", "RFC 9111 §3.2 (\(round))")
            #expect(response.headers("content-encoding") == ["x-custom"], "RFC 9111 §3.2: the stored coding stays (\(round))")
            #expect(response.header("x-a") == "2", "RFC 9111 §3.2 (\(round))")
            #expect(response.header("x-new") == "y", "RFC 9111 §3.2 (\(round))")
            #expect(response.headers("x-hop") == ["kept"], "RFC 9111 §3.1: a Connection-named field is not stored (\(round))")
            #expect(response.header("cache-control") == "max-age=60", "\(round)")
            #expect(response.header("age") == "7", "RFC 9111 §4.2.3: the 304's Age counts (\(round))")
            #expect(response.header("via") == "1.1 paca", "\(round)")
        }
        #expect(origin.requestCount == 2)
    }
}

/// A raw answer: exact body bytes (de-chunked when paca framed it chunked).
struct RawAnswer {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    var cacheStatus: String { headers("cache-status").joined(separator: ", ") }
}

/// `GET path` with `Connection: close`, read to the end; fails the test on a malformed answer.
func rawExchange(_ proxy: ProxyHarness, path: String, headers: [(String, String)] = []) async throws -> RawAnswer {
    let connection = try await proxy.connect()
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(proxy.port)\r\nConnection: close\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    try await connection.send(request + "\r\n")
    let bytes = try await connection.readUntilClosedBytes()
    await connection.close()
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    guard let end = bytes.firstRange(of: separator) else { throw RawHTTPClientError.malformed("no end of head") }
    let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
    let parts = lines[0].split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPClientError.malformed(lines[0]) }
    var fields: [(String, String)] = []
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { throw RawHTTPClientError.malformed(line) }
        fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    var answer = RawAnswer(status: status, headers: fields, body: Array(bytes[end.upperBound...]))
    if answer.headers("transfer-encoding") == ["chunked"] {
        answer.body = try dechunk(answer.body)
    } else if let length = answer.headers("content-length").first.flatMap({ Int($0) }), length != answer.body.count {
        throw RawHTTPClientError.malformed("Content-Length \(length) but \(answer.body.count) bytes")
    }
    return answer
}

/// Decodes a chunked body (RFC 9112 §7.1), insisting on a well-formed last chunk.
func dechunk(_ framed: [UInt8]) throws -> [UInt8] {
    var out: [UInt8] = []
    var index = 0
    let crlf: [UInt8] = [13, 10]
    while true {
        guard let lineEnd = framed[index...].firstRange(of: crlf) else { throw RawHTTPClientError.malformed("chunk size") }
        let sizeText = String(decoding: framed[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
        guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
            throw RawHTTPClientError.malformed("chunk size \(sizeText)")
        }
        index = lineEnd.upperBound
        if size == 0 { return out }
        guard index + size + 2 <= framed.count else { throw RawHTTPClientError.malformed("short chunk") }
        out += framed[index..<index + size]
        index += size + 2
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7).
func httpDate(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: date)
}
