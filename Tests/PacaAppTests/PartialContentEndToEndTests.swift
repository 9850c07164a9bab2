import Foundation
import NIOCore
import PacaTestSupport
import Synchronization
import Testing

/// An origin for the ten-byte representation "0123456789" (strong ETag, fresh for a minute) that
/// answers a `Range` with 206, and a request without one with 206 for its first four bytes, as a
/// slicing origin might: every answer it gives is partial content.
private func partialOrigin(etag: String = "\"v1\"") -> @Sendable (TestOrigin.Seen) -> TestOrigin.Reply {
    { seen in
        let representation = Array("0123456789".utf8)
        var range = 0...3
        if let header = seen.header("range"), header.hasPrefix("bytes="), !header.contains(",") {
            let spec = header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
            if spec.count == 2, let first = Int(spec[0]), let last = Int(spec[1]) { range = first...min(last, 9) }
        }
        return TestOrigin.Reply(
            status: 206,
            headers: [
                ("ETag", etag), ("Cache-Control", "max-age=60"), ("Content-Type", "text/plain"),
                ("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound)/10"),
            ], body: String(decoding: representation[range], as: UTF8.self))
    }
}

/// The multipart body paca sends for `parts` (range text, bytes) of "0123456789" with `boundary`.
private func multipart(_ parts: [(String, String)], boundary: String) -> String {
    parts.enumerated().map { index, part in
        (index == 0 ? "" : "\r\n") + "--\(boundary)\r\nContent-Type: text/plain\r\nContent-Range: bytes \(part.0)/10\r\n\r\n\(part.1)"
    }.joined() + "\r\n--\(boundary)--\r\n"
}

/// RFC 9111 §3.3–3.4 and RFC 9110 §14 through the real proxy, libcurl and an in-process origin.
@Suite("Partial content end to end", .timeLimit(.minutes(1)))
struct PartialContentEndToEndTests {
    @Test(
        "RFC 9110 §14.6: several ranges of a stored 200 get multipart/byteranges; §14.2: overlapping pairs coalesce, abusive sets get 200")
    func multipartFromStoredEntry() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=60"), ("Content-Type", "text/plain")], body: "0123456789")
        }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/m")
        let two = try await proxy.get("/m", headers: [("Range", "bytes=0-1,7-8")])
        #expect(two.status == 206)
        let contentType = two.header("content-type") ?? ""
        #expect(contentType.hasPrefix("multipart/byteranges; boundary="))
        let boundary = String(contentType.dropFirst("multipart/byteranges; boundary=".count))
        #expect(two.body == multipart([("0-1", "01"), ("7-8", "78")], boundary: boundary))
        #expect(two.header("content-length") == String(two.body.utf8.count))
        #expect(two.headers("content-type").count == 1)
        #expect(two.header("content-range") == nil)

        let overlapping = try await proxy.get("/m", headers: [("Range", "bytes=0-1,1-3")])
        #expect(overlapping.status == 206)
        #expect(overlapping.body == "0123")
        #expect(overlapping.header("content-range") == "bytes 0-3/10")
        let abusive = try await proxy.get("/m", headers: [("Range", "bytes=0-5,1-3,2-4")])
        #expect(abusive.status == 200)
        #expect(abusive.body == "0123456789")
        let many = (0..<17).map { "\($0 % 10)-\($0 % 10)" }.joined(separator: ",")
        #expect(try await proxy.get("/m", headers: [("Range", "bytes=" + many)]).status == 200)
        let openEnded = try await proxy.get("/m", headers: [("Range", "bytes=6-")])
        #expect(openEnded.body == "6789")
        #expect(openEnded.header("content-range") == "bytes 6-9/10")
        let suffix = try await proxy.get("/m", headers: [("Range", "bytes=-2")])
        #expect(suffix.body == "89")
        #expect(suffix.header("content-range") == "bytes 8-9/10")
        #expect(origin.requestCount == 1)
    }

    @Test("RFC 9111 §3.3–3.4: 206 parts with a strong ETag are kept, answer the ranges they cover, and combine into a stored 200")
    func partsCombineIntoAComplete200() async throws {
        let origin = try await TestOrigin(partialOrigin())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        // A fill sends no Range; this origin answers 206 for 0-3 anyway, which is kept.
        let first = try await proxy.get("/p", headers: [("Range", "bytes=0-3")])
        #expect(first.status == 206)
        #expect(first.body == "0123")
        #expect(first.header("content-range") == "bytes 0-3/10")
        #expect(first.cacheStatus.contains("stored"))
        #expect(origin.requests.last?.header("range") == nil)

        // Covered by the part: no origin, §3.3.
        let inside = try await proxy.get("/p", headers: [("Range", "bytes=1-2")])
        #expect(inside.status == 206)
        #expect(inside.body == "12")
        #expect(inside.header("content-range") == "bytes 1-2/10")
        #expect(inside.header("etag") == "\"v1\"")
        #expect(inside.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 1)

        // Not covered: the Range goes to the origin and its 206 joins the parts.
        let tail = try await proxy.get("/p", headers: [("Range", "bytes=7-9")])
        #expect(tail.status == 206)
        #expect(tail.body == "789")
        #expect(origin.requests.last?.header("range") == "bytes=7-9")
        #expect(origin.requestCount == 2)

        // Suffix, open-ended and several ranges resolve against the complete length (§14.1.2).
        let suffix = try await proxy.get("/p", headers: [("Range", "bytes=-2")])
        #expect(suffix.body == "89")
        #expect(suffix.header("content-range") == "bytes 8-9/10")
        let openEnded = try await proxy.get("/p", headers: [("Range", "bytes=8-")])
        #expect(openEnded.body == "89")
        let two = try await proxy.get("/p", headers: [("Range", "bytes=0-1,8-9")])
        #expect(two.status == 206)
        let boundary = String((two.header("content-type") ?? "").dropFirst("multipart/byteranges; boundary=".count))
        #expect(two.body == multipart([("0-1", "01"), ("8-9", "89")], boundary: boundary))
        let beyond = try await proxy.get("/p", headers: [("Range", "bytes=10-")])
        #expect(beyond.status == 416)
        #expect(beyond.header("content-range") == "bytes */10")
        #expect(origin.requestCount == 2)

        // The missing middle completes the representation: stored as a 200 (§3.4).
        let middle = try await proxy.get("/p", headers: [("Range", "bytes=4-6")])
        #expect(middle.status == 206)
        #expect(middle.body == "456")
        #expect(middle.cacheStatus.contains("stored"))
        #expect(origin.requestCount == 3)
        let whole = try await proxy.get("/p")
        #expect(whole.status == 200)
        #expect(whole.body == "0123456789")
        #expect(whole.header("content-range") == nil)
        #expect(whole.header("etag") == "\"v1\"")
        #expect(whole.cacheStatus.contains("hit"))
        #expect(origin.requestCount == 3)
    }

    @Test("RFC 9111 §3.4: a part under a weak ETag is not kept; the next request for the same range goes to the origin")
    func weakValidatorPartsAreNotKept() async throws {
        let origin = try await TestOrigin(partialOrigin(etag: "W/\"v1\""))
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        let first = try await proxy.get("/w", headers: [("Range", "bytes=0-3")])
        #expect(first.status == 206)
        #expect(first.body == "0123")
        #expect(!first.cacheStatus.contains("stored"))
        let again = try await proxy.get("/w", headers: [("Range", "bytes=0-3")])
        #expect(again.body == "0123")
        #expect(origin.requestCount == 2)
    }

    @Test("RFC 9111 §3.4: a part under another strong ETag replaces the kept parts; an older part no longer answers")
    func newValidatorReplacesParts() async throws {
        let version = VersionBox()
        let origin = try await TestOrigin { seen in partialOrigin(etag: version.etag)(seen) }
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/e", headers: [("Range", "bytes=0-3")])
        version.etag = "\"v2\""
        let later = try await proxy.get("/e", headers: [("Range", "bytes=6-9")])
        #expect(later.header("etag") == "\"v2\"")
        let early = try await proxy.get("/e", headers: [("Range", "bytes=0-1")])
        #expect(early.header("etag") == "\"v2\"")
        #expect(origin.requestCount == 3)
        #expect(origin.requests.last?.header("range") == "bytes=0-1")
    }

    @Test("RFC 9111 §4.2: stale parts are not used; the range goes to the origin and its fresh part replaces them")
    func staleParts() async throws {
        let origin = try await TestOrigin(partialOrigin())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/s", headers: [("Range", "bytes=0-3")])
        #expect(try await proxy.get("/s", headers: [("Range", "bytes=0-1")]).cacheStatus.contains("hit"))
        proxy.clock.advance(by: .seconds(61))
        let stale = try await proxy.get("/s", headers: [("Range", "bytes=0-1")])
        #expect(stale.body == "01")
        #expect(origin.requestCount == 2)
        #expect(try await proxy.get("/s", headers: [("Range", "bytes=0-1")]).cacheStatus.contains("hit"))
        #expect(origin.requestCount == 2)
    }

    @Test("A purge of the URL removes its kept parts")
    func purgeRemovesParts() async throws {
        let origin = try await TestOrigin(partialOrigin())
        let proxy = try await ProxyHarness.start(origin: origin, config: catchAll())
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        _ = try await proxy.get("/u", headers: [("Range", "bytes=0-3")])
        #expect(try await proxy.request("DELETE", "/u").status < 500)
        _ = try await proxy.get("/u", headers: [("Range", "bytes=0-3")])
        #expect(origin.requests.filter { $0.method == "GET" }.count == 2)
    }
}

/// The ETag the test origin sends, changed by the test between requests.
private final class VersionBox: Sendable {
    private let value = Mutex("\"v1\"")
    var etag: String {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
