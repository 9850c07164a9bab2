import NIOCore
import PacaCore
import PacaHTTPCaching
import Testing

@Suite("Fields paca keeps to itself and origin failures that mean unreachable")
struct WithheldFieldsTests {
    @Test("Paca-Cache-Control is stored with an entry but never in the header block a hit writes")
    func headerBlockWithholdsPacaTarget() {
        let entry = CacheEntry(
            key: "k", status: 200,
            headers: [
                HTTPField(name: "Cache-Control", value: "no-store"), HTTPField(name: "PACA-Cache-Control", value: "max-age=60"),
                HTTPField(name: "CDN-Cache-Control", value: "max-age=30"),
            ], body: ByteBuffer(),
            timing: EntryTiming(requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 0, storageExpiry: 0))
        let block = String(buffer: entry.headerBlock)
        #expect(block == "Cache-Control: no-store\r\nCDN-Cache-Control: max-age=30\r\n")
        #expect(entry.headers.count == 3)
    }

    @Test("an entry's key hash is the key's FNV-1a, the same on every read")
    func keyHash() {
        let entry = CacheEntry(
            key: "GET|bench.test|/bench/1k.json", status: 200, headers: [], body: ByteBuffer(),
            timing: EntryTiming(requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 0, storageExpiry: 0))
        #expect(entry.keyHash == FNV1a.hash("GET|bench.test|/bench/1k.json"))
        #expect(entry.keyHash == FNV1a.hash("GET|bench.test|/bench/1k.json"))
    }

    @Test(
        "RFC 9111 §4.2.4: connect failures and timeouts are unreachable; answers are not",
        arguments: [
            (OriginError.connectFailed("refused"), true), (.timedOut("slow"), true), (.protocolError("reset"), false),
            (.responseTooLarge(limit: 1), false), (.shutDown, false),
        ])
    func unreachable(_ error: OriginError, _ expected: Bool) {
        #expect(error.isUnreachable == expected)
    }
}
