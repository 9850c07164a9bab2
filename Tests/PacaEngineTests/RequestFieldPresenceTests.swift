import NIOHTTP1
import Testing

@testable import PacaEngine

/// The one-pass presence set the engine branches on instead of one `HTTPHeaders` scan per
/// question (issue 12).
@Suite("Request field presence")
struct RequestFieldPresenceTests {
    @Test("each field is found whatever its case, among a browser's other fields")
    func findsEachField() {
        let cases: [(String, RequestFieldPresence)] = [
            ("Cookie", .cookie), ("RANGE", .range), ("If-None-Match", .ifNoneMatch), ("if-modified-since", .ifModifiedSince),
            ("Cache-Control", .cacheControl), ("pRaGmA", .pragma),
        ]
        for (name, flag) in cases {
            let headers = HTTPHeaders([
                ("Host", "a"), ("User-Agent", "Mozilla/5.0"), ("Accept", "*/*"), (name, "x"), ("Accept-Language", "en"),
            ])
            #expect(RequestFieldPresence(headers) == flag, "\(name)")
        }
    }

    @Test("names of the same length that differ, prefixes and longer names are not taken for them")
    func ignoresLookalikes() {
        let headers = HTTPHeaders([
            ("Cookies", "x"), ("Rangex", "x"), ("Rang", "x"), ("If-None-Matcg", "x"), ("Cache-Contrul", "x"), ("Pragmb", "x"),
            ("If-Modified-Sincf", "x"), ("If-Unmodified-Since", "x"), ("Accept-Ranges", "x"), ("Set-Cookie", "x"),
        ])
        #expect(RequestFieldPresence(headers) == [])
    }

    @Test("several fields at once; the conditional pair is either of the two")
    func several() {
        let present = RequestFieldPresence(HTTPHeaders([("range", "bytes=0-1"), ("if-none-match", "\"a\""), ("pragma", "no-cache")]))
        #expect(present == [.range, .ifNoneMatch, .pragma])
        #expect(!present.isDisjoint(with: .conditional))
        #expect(RequestFieldPresence(HTTPHeaders([("If-Modified-Since", "x")])).isDisjoint(with: .conditional) == false)
        #expect(RequestFieldPresence(HTTPHeaders()).isDisjoint(with: .conditional))
    }
}
