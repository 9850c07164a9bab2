import CompressNIO
import Foundation
import NIOCore
import PacaAccessLog
import PacaCore
import Testing

/// A fresh file under the system's temporary directory holding `bytes`; the caller removes it.
private func temporaryFile(_ bytes: [UInt8], suffix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("paca-logreader-\(UUID().uuidString)\(suffix)").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

private func gzip(_ text: String) throws -> [UInt8] {
    var input = ByteBuffer(string: text)
    let output = try input.compress(with: .gzip())
    return Array(output.readableBytesView)
}

private func readAll(_ path: String, format: LogFormat? = nil) throws -> (LogReader, [LogRequest], LogReadReport) {
    let reader = try LogReader(path: path, format: format)
    var requests: [LogRequest] = []
    let report = try reader.forEach { requests.append($0) }
    return (reader, requests, report)
}

@Suite struct LogReaderTests {
    @Test func readsPacaJSONLinesAsTheWriterWritesThem() throws {
        let record = AccessLogRecord(
            timestamp: 1_736_935_200_123, method: "GET", host: "api.example", url: "/api/users/7?page=2", route: "users",
            status: 200, bytes: 1234, cache: .miss, ttl: 60, key: "v1|x", milliseconds: 1.5, client: "10.0.0.1")
        let second =
            #"{"ts":"2025-01-15T10:00:01.000Z","method":"HEAD","host":"h","url":"/a\"b\u00e9","route":"","status":304,"bytes":0,"cache":"hit","tier":null,"ttl":null,"extra":{"n":[1,2.5e3,true]},"ms":0.2}"#
        let path = try temporaryFile(Array((record.jsonLine() + "\n" + second + "\n").utf8), suffix: ".jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .pacaJSON)
        #expect(report == LogReadReport(lines: 2, malformed: 0, firstMalformedLines: []))
        #expect(
            requests == [
                LogRequest(
                    timestamp: 1_736_935_200_123, method: "GET", host: "api.example", url: "/api/users/7?page=2", status: 200,
                    bytes: 1234, ttl: 60, cache: "miss", route: "users"),
                LogRequest(
                    timestamp: 1_736_935_201_000, method: "HEAD", host: "h", url: "/a\"b\u{e9}", status: 304, bytes: 0,
                    cache: "hit"),
            ])
    }

    @Test func readsCombinedLines() throws {
        let text = """
            203.0.113.9 - - [15/Jan/2025:10:00:00 +0000] "GET /api/users/7?page=2 HTTP/1.1" 200 1234 "-" "curl/8.0"
            203.0.113.9 - frank [15/Jan/2025:11:00:01 +0100] "POST /api/cart HTTP/1.1" 201 - "https://r.example/" "Mozilla/5.0 (X11)"

            """
        let path = try temporaryFile(Array(text.utf8), suffix: ".log")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .combined)
        #expect(report.malformed == 0 && report.lines == 2)
        #expect(
            requests == [
                LogRequest(timestamp: 1_736_935_200_000, method: "GET", url: "/api/users/7?page=2", status: 200, bytes: 1234),
                LogRequest(timestamp: 1_736_935_201_000, method: "POST", url: "/api/cart", status: 201, bytes: 0),
            ])
    }

    @Test func readsNginxMainWithRequestTime() throws {
        let text = """
            10.1.2.3 - - [15/Jan/2025:10:00:00 +0000] "GET /api/products/3 HTTP/1.1" 200 4096 "-" "k6/0.5" "198.51.100.7" 0.012
            10.1.2.3 - - [15/Jan/2025:10:00:02 +0000] "GET /api/products/4 HTTP/2.0" 404 10 "-" "k6/0.5" "-" 0.001
            """
        let path = try temporaryFile(Array(text.utf8), suffix: ".log")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .nginxMain)
        #expect(report == LogReadReport(lines: 2, malformed: 0, firstMalformedLines: []))
        #expect(requests.map(\.url) == ["/api/products/3", "/api/products/4"])
        #expect(requests.map(\.status) == [200, 404])
        #expect(requests[1].timestamp == 1_736_935_202_000)
    }

    @Test func readsPlainTracesWithAndWithoutTTL() throws {
        let text = "# key size ttl\nobj1 100\nobj2 2048 30\n\nobj1\t100\n"
        let path = try temporaryFile(Array(text.utf8), suffix: ".txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .trace)
        #expect(report == LogReadReport(lines: 5, malformed: 0, firstMalformedLines: []))
        #expect(
            requests == [
                LogRequest(method: "GET", url: "obj1", bytes: 100, key: "obj1"),
                LogRequest(method: "GET", url: "obj2", bytes: 2048, ttl: 30, key: "obj2"),
                LogRequest(method: "GET", url: "obj1", bytes: 100, key: "obj1"),
            ])
    }

    @Test func countsMalformedLinesWithTheNumbersOfTheFirstFew() throws {
        var lines: [String] = []
        for index in 1...40 {
            // Every third line is broken in a different way; the rest are good.
            switch index % 6 {
            case 0: lines.append("k\(index) notasize")
            case 3: lines.append("k\(index) 10 20 30")
            default: lines.append("k\(index) \(index)")
            }
        }
        let path = try temporaryFile(Array((lines.joined(separator: "\n") + "\n").utf8), suffix: ".txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, requests, report) = try readAll(path, format: .trace)
        #expect(requests.count == 27)
        #expect(report.lines == 40)
        #expect(report.malformed == 13)
        #expect(report.firstMalformedLines == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30])
    }

    @Test func aBadLineInAJSONLogIsSkippedNotFatal() throws {
        let good = #"{"method":"GET","url":"/a"}"#
        let text = [good, #"{"method":"GET","url":"/b""#, "not json", #"{"method":"GET"}"#, good].joined(separator: "\n")
        let path = try temporaryFile(Array(text.utf8), suffix: ".jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .pacaJSON)
        #expect(requests.map(\.url) == ["/a", "/a"])
        #expect(report == LogReadReport(lines: 5, malformed: 3, firstMalformedLines: [2, 3, 4]))
    }

    @Test func anOverlongLineIsMalformedAndTheNextLineStillReads() throws {
        let text = "a 1\n" + String(repeating: "x", count: 3 << 20) + " 5\nb 2\n"
        let path = try temporaryFile(Array(text.utf8), suffix: ".txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, requests, report) = try readAll(path, format: .trace)
        #expect(requests.map(\.url) == ["a", "b"])
        #expect(report == LogReadReport(lines: 3, malformed: 1, firstMalformedLines: [2]))
    }

    @Test func readsGzipAcrossChunksAndMembers() throws {
        // About 2.5 MB decompressed: several 1 MiB chunks, lines cut at chunk edges; two gzip
        // members, as `cat a.gz b.gz` makes.
        var first = ""
        var second = ""
        for index in 0..<100_000 { first += "key-\(index % 977) \(index % 5000 + 1)\n" }
        for index in 0..<60_000 { second += "other-\(index) 7 \(index % 50)\n" }
        let path = try temporaryFile(try gzip(first) + gzip(second), suffix: ".log.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, requests, report) = try readAll(path)
        #expect(reader.format == .trace)
        #expect(report == LogReadReport(lines: 160_000, malformed: 0, firstMalformedLines: []))
        #expect(requests.count == 160_000)
        #expect(
            requests[99_999] == LogRequest(method: "GET", url: "key-\(99_999 % 977)", bytes: 99_999 % 5000 + 1, key: "key-\(99_999 % 977)"))
        #expect(requests.last == LogRequest(method: "GET", url: "other-59999", bytes: 7, ttl: 59_999 % 50, key: "other-59999"))
    }

    @Test func aCorruptGzipIsAnErrorNotASilentEnd() throws {
        var bytes = try gzip(String(repeating: "k 1\n", count: 10_000))
        for index in 20..<min(bytes.count, 60) { bytes[index] ^= 0x5A }
        let path = try temporaryFile(bytes, suffix: ".gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: LogReadError.self) {
            let reader = try LogReader(path: path, format: .trace)
            _ = try reader.forEach { _ in }
        }
    }

    @Test func aMissingFileOrAnUnknownFormatIsOneClearError() throws {
        #expect(throws: LogReadError.unreadable(path: "/nonexistent/paca.log", reason: "No such file or directory")) {
            _ = try LogReader(path: "/nonexistent/paca.log")
        }
        let path = try temporaryFile(Array("just words here and more\n".utf8), suffix: ".log")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: LogReadError.unknownFormat(path: path)) { _ = try LogReader(path: path) }
    }
}
