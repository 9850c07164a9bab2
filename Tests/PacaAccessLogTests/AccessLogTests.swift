import Foundation
import PacaCore
import Synchronization
import Testing

@testable import PacaAccessLog

/// 2026-01-01T00:00:00.123Z.
private let t0: UnixMillis = 1_767_225_600_123

private func record(url: String = "/api/users/7?page=2", client: String = "203.0.113.9") -> AccessLogRecord {
    AccessLogRecord(
        timestamp: t0, method: "GET", host: "example.com", url: url, route: "users", status: 200, bytes: 1234, cache: .hit,
        tier: "l1", ttl: 42, collapsed: true, key: "9f86d081884c7d65", milliseconds: 12.3456, originMilliseconds: 3.5,
        client: client)
}

private func parse(_ line: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(object as? [String: Any], "a JSON object")
}

/// A fresh directory under the system's temporary directory, removed by the caller.
private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("paca-accesslog-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func lines(of path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

@Suite("AccessLogRecord")
struct AccessLogRecordTests {
    @Test("jsonLine is one JSON object with every field of the access log")
    func everyField() throws {
        let line = record().jsonLine()
        #expect(!line.contains("\n"))
        let object = try parse(line)
        #expect(
            Set(object.keys) == [
                "ts", "method", "host", "url", "route", "status", "bytes", "cache", "tier", "ttl", "collapsed", "key", "ms",
                "origin_ms", "client",
            ])
        #expect(object["ts"] as? String == "2026-01-01T00:00:00.123Z")
        #expect(object["method"] as? String == "GET")
        #expect(object["host"] as? String == "example.com")
        #expect(object["url"] as? String == "/api/users/7?page=2")
        #expect(object["route"] as? String == "users")
        #expect(object["status"] as? Int == 200)
        #expect(object["bytes"] as? Int == 1234)
        #expect(object["cache"] as? String == "hit")
        #expect(object["tier"] as? String == "l1")
        #expect(object["ttl"] as? Int == 42)
        #expect(object["collapsed"] as? Bool == true)
        #expect(line.contains("\"collapsed\":true"), "a JSON boolean, not 1")
        // The record carries the key; the log shows only its hash.
        #expect(object["key"] as? String == FNV1a.hex("9f86d081884c7d65"))
        #expect(object["ms"] as? Double == 12.346)
        #expect(line.contains("\"ms\":12.346,"), "milliseconds with three decimals")
        #expect(object["origin_ms"] as? Double == 3.5)
        #expect(line.contains("\"origin_ms\":3.500,"))
        #expect(object["client"] as? String == "203.0.113.9")
    }

    @Test("absent values are JSON null or empty strings")
    func absentValues() throws {
        let bare = AccessLogRecord(
            timestamp: 0, method: "GET", host: "h", url: "/", route: "", status: 404, bytes: 0, cache: .pass, milliseconds: 0,
            client: "127.0.0.1")
        let line = bare.jsonLine()
        let object = try parse(line)
        #expect(object["ttl"] is NSNull)
        #expect(object["origin_ms"] is NSNull)
        #expect(object["tier"] is NSNull)
        #expect(object["background"] == nil)
        #expect(object["key"] as? String == "")
        #expect(object["route"] as? String == "")
        #expect(line.contains("\"collapsed\":false"))
        #expect(line.contains("\"ms\":0.000,"))
        #expect(object["ts"] as? String == "1970-01-01T00:00:00.000Z")
    }

    @Test(
        "every cache outcome is written by name",
        arguments: [
            AccessLogRecord.CacheOutcome.hit, .miss, .stale, .revalidated, .bypass, .pass,
        ])
    func cacheOutcome(_ outcome: AccessLogRecord.CacheOutcome) throws {
        var entry = record()
        entry.cache = outcome
        let object = try parse(entry.jsonLine())
        #expect(object["cache"] as? String == outcome.rawValue)
    }

    @Test(
        "strings survive escaping",
        arguments: [
            "plain", "", "quote \" inside", "back\\slash", "new\nline", "carriage\rreturn", "tab\there", "nul \u{0} byte",
            "bell \u{7} and \u{1F}", "del \u{7F}", "caf\u{E9} \u{1F600}", "line\u{2028}separator", "\"\\\"\\", "/path?a=1&b=</script>",
        ])
    func escaping(_ text: String) throws {
        let line = record(url: text, client: text).jsonLine()
        #expect(line.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "no raw control characters")
        let object = try parse(line)
        #expect(object["url"] as? String == text)
        #expect(object["client"] as? String == text)
    }

    @Test(
        "a negative duration keeps its sign"
    )
    func negativeMilliseconds() throws {
        var entry = record()
        entry.milliseconds = -0.25
        #expect(try parse(entry.jsonLine())["ms"] as? Double == -0.25)
    }

    @Test("a line is byte for byte the documented format")
    func exactBytes() {
        let expected =
            #"{"ts":"2026-01-01T00:00:00.123Z","method":"GET","host":"example.com","url":"/api/users/7?page=2","route":"users","#
            + #""status":200,"bytes":1234,"cache":"hit","tier":"l1","ttl":42,"collapsed":true,"key":""#
            + FNV1a.hex("9f86d081884c7d65") + #"","ms":12.346,"origin_ms":3.500,"client":"203.0.113.9"}"#
        #expect(record().jsonLine() == expected)
        var background = record()
        background.background = true
        background.ttl = -3
        background.status = 0
        #expect(background.jsonLine().hasSuffix(#""client":"203.0.113.9","background":true}"#))
        #expect(background.jsonLine().contains(#""status":0,"#))
        #expect(background.jsonLine().contains(#""ttl":-3,"#))
    }

    @Test(
        "the key's hash is sixteen lower-case hex digits, leading zeros kept",
        arguments: ["", "a", "9f86d081884c7d65", "/bench/1k.json?x=1", "caf\u{E9}", "key16800"])
    func keyHash(_ key: String) throws {
        var entry = record()
        entry.key = key
        let object = try parse(entry.jsonLine())
        #expect(object["key"] as? String == (key.isEmpty ? "" : FNV1a.hex(key)))
        // Both halves of this one start with a zero digit, and it has digits and letters.
        if key == "key16800" { #expect(object["key"] as? String == "0cc982390f8195e9") }
    }

    @Test("a hash the caller gives is written as the key; without one the writer hashes the key")
    func givenKeyHash() throws {
        var entry = record()
        entry.key = "GET|example.com|/bench"
        entry.keyHash = 0x0123_4567_89ab_cdef
        #expect(try parse(entry.jsonLine())["key"] as? String == "0123456789abcdef")
        entry.keyHash = nil
        #expect(try parse(entry.jsonLine())["key"] as? String == FNV1a.hex("GET|example.com|/bench"))
    }

    @Test("a duration that is not finite is null, and one beyond Int64 is clamped, never a trap")
    func extremeDurations() throws {
        var entry = record()
        entry.milliseconds = .nan
        entry.originMilliseconds = .infinity
        var object = try parse(entry.jsonLine())
        #expect(object["ms"] is NSNull)
        #expect(object["origin_ms"] is NSNull)
        entry.milliseconds = 1e300
        entry.originMilliseconds = -1e300
        object = try parse(entry.jsonLine())
        #expect(object["ms"] as? Double == 9.2e15)
        #expect(object["origin_ms"] as? Double == -9.2e15)
        entry.milliseconds = 0.0005
        #expect(entry.jsonLine().contains(#""ms":0.001,"#))
    }

    @Test("the longest strings, all escaped, fit the bytes reserved for them")
    func worstCaseFits() throws {
        let text = String(repeating: "\u{1}", count: 2000)
        var entry = record(url: text, client: text)
        entry.method = text
        entry.host = text
        entry.route = text
        entry.tier = text
        entry.timestamp = 253_402_300_799_999  // 9999-12-31T23:59:59.999Z
        entry.ttl = .min
        entry.status = .min
        entry.bytes = .max
        let object = try parse(entry.jsonLine())
        #expect(object["url"] as? String == text)
        #expect(object["tier"] as? String == text)
    }

    @Test("control characters use the short escapes or \\u00XX")
    func escapeSpelling() {
        let line = record(url: "\"\\\n\r\t\u{1}\u{1F}").jsonLine()
        #expect(line.contains(#""url":"\"\\\n\r\t\u0001\u001f""#))
    }
}

@Suite("RFC3339")
struct RFC3339Tests {
    struct Case: Sendable, CustomTestStringConvertible {
        let millis: UnixMillis
        let text: String
        var testDescription: String { "\(millis) ↔ \(text)" }
    }

    static let cases: [Case] = [
        .init(millis: 0, text: "1970-01-01T00:00:00.000Z"),
        .init(millis: 1, text: "1970-01-01T00:00:00.001Z"),
        .init(millis: -1, text: "1969-12-31T23:59:59.999Z"),
        .init(millis: -86_400_000, text: "1969-12-31T00:00:00.000Z"),
        .init(millis: 951_782_400_000, text: "2000-02-29T00:00:00.000Z"),
        .init(millis: 1_767_225_600_123, text: "2026-01-01T00:00:00.123Z"),
        .init(millis: 1_798_761_599_999, text: "2026-12-31T23:59:59.999Z"),
        .init(millis: 4_107_542_400_000, text: "2100-03-01T00:00:00.000Z"),
        .init(millis: 253_402_300_799_999, text: "9999-12-31T23:59:59.999Z"),
    ]

    @Test("format", arguments: cases)
    func format(_ c: Case) {
        #expect(RFC3339.format(millis: c.millis) == c.text)
    }

    @Test("parse reads back what format writes", arguments: cases)
    func roundTrip(_ c: Case) {
        #expect(RFC3339.parse(c.text) == c.millis)
        #expect(RFC3339.parse(RFC3339.format(millis: c.millis)) == c.millis)
    }

    @Test(
        "round trip over a spread of instants",
        arguments: Array(stride(from: Int64(-2_000_000_000_000), through: 5_000_000_000_000, by: 123_456_789_017)))
    func spreadRoundTrip(millis: Int64) {
        #expect(RFC3339.parse(RFC3339.format(millis: millis)) == millis)
    }

    struct ParseCase: Sendable, CustomTestStringConvertible {
        let text: String
        let millis: UnixMillis?
        var testDescription: String { "\(text) → \(millis.map(String.init) ?? "nil")" }
    }

    static let parseCases: [ParseCase] = [
        .init(text: "2026-01-01T00:00:00Z", millis: 1_767_225_600_000),
        .init(text: "2026-01-01T00:00:00z", millis: 1_767_225_600_000),
        .init(text: "2026-01-01T00:00:00.5Z", millis: 1_767_225_600_500),
        .init(text: "2026-01-01T00:00:00.12Z", millis: 1_767_225_600_120),
        .init(text: "2026-01-01T00:00:00.123456Z", millis: 1_767_225_600_123),
        .init(text: "2026-01-01T01:00:00+01:00", millis: 1_767_225_600_000),
        .init(text: "2025-12-31T19:30:00-04:30", millis: 1_767_225_600_000),
        .init(text: "2026-01-01T00:00:00", millis: nil),
        .init(text: "2026-01-01T00:00:00X", millis: nil),
        .init(text: "2026-13-01T00:00:00Z", millis: nil),
        .init(text: "2026-01-32T00:00:00Z", millis: nil),
        .init(text: "2026-01-01T00:00:00+0100", millis: nil),
        .init(text: "not a timestamp at all", millis: nil),
        .init(text: "", millis: nil),
    ]

    @Test("parse", arguments: parseCases)
    func parse(_ c: ParseCase) {
        #expect(RFC3339.parse(c.text) == c.millis)
    }
}

@Suite("AccessLogWriter")
struct AccessLogWriterTests {
    @Test("shutdown writes every queued record, in order, creating the directory")
    func shutdownFlushes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("logs/nested/access.log").path
        // A short interval: shutdown can wait up to one interval for the writer thread to wake.
        let writer = try AccessLogWriter(path: path, flushInterval: .milliseconds(20))
        for index in 0..<3 { writer.append(record(url: "/r\(index)")) }
        await writer.shutdown()

        let written = try lines(of: path)
        #expect(written.count == 4, "three lines, each ending in a newline")
        #expect(written.last == "")
        let urls = try written.dropLast().map { try parse($0)["url"] as? String }
        #expect(urls == ["/r0", "/r1", "/r2"])
        #expect(writer.counts.written == 3)
        #expect(writer.counts.dropped == 0)
        await writer.shutdown()  // a second shutdown returns at once
    }

    @Test("a batch larger than one write, and a line larger than the write buffer, reach the file whole and in order")
    func batchesAcrossWrites() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        // About 1,500 lines of 250 bytes and more: several 64 KiB writes. Line 700's URL alone
        // is larger than the buffer, and escaped it is six times that.
        let long = String(repeating: "\u{1}/x", count: 40_000)
        var urls: [String] = []
        for index in 0..<1500 {
            let url = index == 700 ? long : "/r\(index)/" + String(repeating: "p", count: index % 97)
            urls.append(url)
            writer.append(record(url: url))
        }
        await writer.shutdown()
        let written = try lines(of: path)
        #expect(written.count == urls.count + 1)
        #expect(try written.dropLast().map { try parse($0)["url"] as? String } == urls)
        #expect(writer.counts.written == urls.count)
    }

    @Test("reopen after the file was moved: earlier lines go to the moved file, later ones to a new file at the path")
    func reopenAfterMove() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        for index in 0..<3 { writer.append(record(url: "/old\(index)")) }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try writer.reopen()
        for index in 0..<2 { writer.append(record(url: "/new\(index)")) }
        await writer.shutdown()
        #expect(try lines(of: path + ".1").dropLast().map { try parse($0)["url"] as? String } == ["/old0", "/old1", "/old2"])
        #expect(try lines(of: path).dropLast().map { try parse($0)["url"] as? String } == ["/new0", "/new1"])
        try writer.reopen()  // after shutdown: nothing to reopen, no file left open
    }

    @Test("a reopen that cannot open the path throws, and the log goes on in the old file")
    func reopenFails() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("logs/access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        writer.append(record(url: "/a"))
        // The directory is replaced by a file: the path cannot be created any more.
        try FileManager.default.moveItem(
            atPath: directory.appendingPathComponent("logs").path, toPath: directory.appendingPathComponent("moved").path)
        try Data().write(to: directory.appendingPathComponent("logs"))
        #expect(throws: (any Error).self) { try writer.reopen() }
        writer.append(record(url: "/b"))
        await writer.shutdown()
        let moved = directory.appendingPathComponent("moved/access.log").path
        #expect(try lines(of: moved).dropLast().map { try parse($0)["url"] as? String } == ["/a", "/b"])
    }

    @Test("a file truncated under the writer (logrotate's copytruncate) is written from its new start, not the old offset")
    func truncatedUnderTheWriter() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        for index in 0..<50 { writer.append(record(url: "/before\(index)")) }
        writer.flush()
        #expect(truncate(path, 0) == 0)
        writer.append(record(url: "/after"))
        await writer.shutdown()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(data.first == UInt8(ascii: "{"), "no hole of zero bytes before the line")
        #expect(try lines(of: path).dropLast().map { try parse($0)["url"] as? String } == ["/after"])
    }

    @Test("lines whose strings repeat the line before's (copied, not escaped again) are byte for byte the lines written alone")
    func repeatedStringsMatchLinesWrittenAlone() async throws {
        // Short strings held inline, long ones in storage, ones that need escaping, an empty one;
        // a long string rebuilt per record (equal, stored apart); enough lines for several writes.
        let long = "/api/v1/catalogue/items/1234567890?expand=all&page=2"
        let hosts = ["example.com", "a-much-longer-host-name.example.com", "h\"q"]
        let clients = ["203.0.113.9", "2001:db8::1234:5678:9abc:def0", "\u{1}ctl"]
        var records: [AccessLogRecord] = []
        for index in 0..<3000 {
            var entry = record(url: index % 7 == 0 ? String(long.reversed().reversed()) : index % 5 == 0 ? long : "/r\(index % 3)")
            entry.host = hosts[(index / 4) % hosts.count]
            entry.client = clients[(index / 9) % clients.count]
            entry.route = index % 11 == 0 ? "" : "users"
            entry.tier = index % 2 == 0 ? "l1" : ""
            entry.method = index % 13 == 0 ? "HEAD" : "GET"
            records.append(entry)
        }
        try await expectWrittenAsAlone(records)
    }

    @Test(
        "runs of lines that repeat but for their times (copied whole) are byte for byte the lines written alone, whichever field ends a run"
    )
    func repeatedLinesMatchLinesWrittenAlone() async throws {
        let long = "/api/v1/catalogue/items/1234567890?expand=all&page=2"
        // Each change ends a run of identical lines and flips one field between its values, so
        // every pass over the list changes it again (a tier goes l1, l2, none); the times change
        // on every line. A key without its hash (a line not compared whole) comes and goes too.
        // 42, 7, none, 0: a change of value, of presence, and of presence alone (none and 0).
        func nextTTL(_ ttl: Int?) -> Int? {
            switch ttl {
            case 42?: 7
            case 7?: nil
            case nil: 0
            default: 42
            }
        }
        let changes: [(inout AccessLogRecord) -> Void] = [
            { $0.status = $0.status == 200 ? 404 : 200 }, { $0.bytes = $0.bytes == 1234 ? 99 : 1234 },
            { $0.cache = $0.cache == .hit ? .stale : .hit }, { $0.tier = ["l1": "l2", "l2": "", "": "l1"][$0.tier] ?? "" },
            { $0.ttl = nextTTL($0.ttl) }, { $0.collapsed.toggle() }, { $0.ttl = nextTTL($0.ttl) },
            { $0.keyHash = $0.keyHash == 0xfeed ? 0xabc : 0xfeed }, { $0.keyHash = $0.keyHash == nil ? 0xabc : nil },
            { $0.key = $0.key.isEmpty ? "9f86d081884c7d65" : "" }, { $0.keyHash = $0.keyHash == nil ? 0xabc : nil },
            { $0.background.toggle() }, { $0.method = $0.method == "GET" ? "HEAD" : "GET" },
            { $0.host = $0.host == "example.com" ? "other.example" : "example.com" }, { $0.url = $0.url == long ? "/short" : long },
            { $0.url = String($0.url.reversed().reversed()) }, { $0.route = $0.route.isEmpty ? "users" : "" },
            { $0.client = $0.client.hasPrefix("\u{1}") ? "203.0.113.9" : "\u{1}ctl" },
            { $0.originMilliseconds = $0.originMilliseconds == nil ? 2 : nil },
        ]
        var current = record(url: long)
        current.keyHash = 0xabc
        var records: [AccessLogRecord] = []
        for index in 0..<3000 {
            if index % 9 == 0 { changes[(index / 9) % changes.count](&current) }
            current.timestamp = t0 + UnixMillis(index / 3 * 7)
            current.milliseconds = Double(index % 17) * 0.0625
            if current.originMilliseconds != nil { current.originMilliseconds = Double(index % 5) }
            if index % 23 == 0 { current.originMilliseconds = 1.5 }
            records.append(current)
        }
        try await expectWrittenAsAlone(records)
    }

    /// Writes `records` through a writer (one batch after another, as under load) and expects
    /// each line to be byte for byte the record's line formatted alone, and its tap to get the
    /// records as they were. With `repeating`, records are queued as the engine queues hits:
    /// with a head serial (one per method, host, url, client and key) and a route (one object
    /// per name), and as a repeat (`appendRepeat`) wherever one is taken. Returns the repeats.
    @discardableResult
    private func expectWrittenAsAlone(
        _ records: [AccessLogRecord], repeating: Bool = false, tapping: Bool = true, connections: Int = 1
    ) async throws -> Int {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        let tapped = Mutex<[AccessLogRecord]>([])
        if tapping { writer.setTap { batch in tapped.withLock { $0 += batch } } }
        var repeats = 0
        var heads: [String: UInt64] = [:]
        var routes: [String: RouteStandIn] = [:]
        for (index, record) in records.enumerated() {
            guard repeating else {
                writer.append(record)
                continue
            }
            // Each connection has its own serial for a head.
            let name = "\(record.method) \(record.host) \(record.url) \(record.client) \(record.key) \(index % connections)"
            let head = heads[name] ?? UInt64(heads.count + 1)
            heads[name] = head
            let route = routes[record.route] ?? RouteStandIn()
            routes[record.route] = route
            if let keyHash = record.keyHash, !record.collapsed, record.originMilliseconds == nil, !record.background,
                writer.appendRepeat(
                    head: head, route: ObjectIdentifier(route), timestamp: record.timestamp, status: record.status, bytes: record.bytes,
                    cache: record.cache, tier: record.tier, ttl: record.ttl, keyHash: keyHash,
                    nanoseconds: HitRing.nanoseconds(record.milliseconds) ?? 0)
            {
                repeats += 1
            } else {
                writer.append(record, head: head, route: route)
            }
        }
        await writer.shutdown()
        let written = try lines(of: path).dropLast()
        #expect(written.count == records.count)
        // In the order the requests started; as queued where they started in the same millisecond.
        let started = records.enumerated().sorted { a, b in
            a.element.timestamp != b.element.timestamp ? a.element.timestamp < b.element.timestamp : a.offset < b.offset
        }.map(\.element)
        for (line, entry) in zip(written, started) where line != entry.jsonLine() {
            Issue.record("\(line) is not \(entry.jsonLine())")
            break
        }
        if tapping { #expect(tapped.withLock { $0 } == started, "the tap gets each record with its own strings") }
        return repeats
    }

    @Test("hits queued as repeats of an earlier record of their head are written, and tapped, as the whole records they stand for")
    func repeatsAreWrittenWhole() async throws {
        let t0: UnixMillis = 1_767_225_600_000
        var records: [AccessLogRecord] = []
        // Three heads and two routes, taking turns in runs of ten; now and then a record
        // a repeat cannot stand for (collapsed, an origin time, a background refresh, no hash).
        for index in 0..<3000 {
            let run = index / 10
            var record = record(url: run % 3 == 0 ? "/b" : "/a?x=\(run % 2)")
            record.route = run % 4 == 0 ? "other" : "users"
            record.key = "key of \(record.url)"
            record.keyHash = index % 97 == 0 ? nil : 0xabc + UInt64(run % 3)
            record.timestamp = t0 + UnixMillis(index / 2)
            record.milliseconds = Double(index % 13) * 0.125
            record.status = index % 11 == 0 ? 304 : 200
            record.bytes = record.status == 304 ? 0 : 1024
            record.tier = index % 7 == 0 ? "l2" : "l1"
            record.ttl = index % 5 == 0 ? nil : 60 - index % 60
            record.collapsed = index % 89 == 0
            record.originMilliseconds = index % 83 == 0 ? 3.5 : nil
            record.background = index % 79 == 0
            records.append(record)
        }
        let repeats = try await expectWrittenAsAlone(records, repeating: true)
        #expect(repeats > 2000, "most records were queued as repeats (\(repeats))")
    }

    @Test(
        "one loop's hits, with no tap, are written from its ring as the whole records they stand for",
        arguments: [false, true])
    func hitsAreWrittenFromTheRing(withMisses: Bool) async throws {
        let t0: UnixMillis = 1_767_225_600_000
        var records: [AccessLogRecord] = []
        // Runs of six hits of one of four heads and two routes (a run's lines repeat but for
        // their times), now and then one that differs in its status, and with `withMisses` now
        // and then a record that goes to the shard rather than the ring (an origin time).
        // With misses queued out of order, fewer hits than wake the writer: one flush, at the end,
        // orders them all (a miss queued after a flush of later hits would follow them).
        for index in 0..<(withMisses ? 400 : 5000) {
            let run = index / 6
            var record = record(url: "/item/\(run % 4)")
            record.route = run % 3 == 0 ? "other" : "users"
            record.key = "key of \(record.url)"
            record.keyHash = 0x100 + UInt64(run % 4)
            record.timestamp = t0 + UnixMillis(index / 3)
            // Whole microseconds, as the engine logs them.
            record.milliseconds = Double(index % 13) * 0.125 + Double(index % 3) * 0.001
            record.status = index % 11 == 0 ? 304 : 200
            record.bytes = record.status == 304 ? 0 : 1024
            record.tier = run % 7 == 0 ? "l2" : "l1"
            record.ttl = run % 5 == 0 ? nil : 60 - run % 60
            record.collapsed = false
            record.originMilliseconds = withMisses && index % 37 == 0 ? 2.5 : nil
            if record.originMilliseconds != nil, index % 2 == 0 {
                // A miss queued when it ended, after hits that started later.
                record.timestamp -= 4
            }
            record.background = false
            records.append(record)
        }
        let repeats = try await expectWrittenAsAlone(records, repeating: true, tapping: false)
        #expect(repeats > records.count * 6 / 10, "most records were queued as repeats (\(repeats))")
    }

    @Test("hits of one object from many connections are written whole, a line that differs only in its client too")
    func hitsFromManyConnections() async throws {
        var records: [AccessLogRecord] = []
        let object = 7
        for index in 0..<3000 {
            // Every seventh request from another client: its line must not be the line before's.
            // The URL and client are built for each request, as each connection reads its own:
            // equal strings held apart.
            var record = record(
                url: "/api/v1/objects/\(object)/rendition.json", client: "203.0.113.\(index % 7 == 3 ? 10 : 9)")
            record.key = "the key"
            record.keyHash = 0x5eed
            record.timestamp = 1_767_225_600_000 + UnixMillis(index / 4)
            record.milliseconds = Double(index % 9) * 0.25
            record.collapsed = false
            record.originMilliseconds = nil
            records.append(record)
        }
        let repeats = try await expectWrittenAsAlone(records, repeating: true, tapping: false, connections: 64)
        #expect(repeats > 2500, "most records were queued as repeats (\(repeats))")
    }

    @Test(
        "repeats queued by two threads at once are written whole, each shard's sharing kept apart, tapped or straight from the rings",
        arguments: [true, false])
    func repeatsFromTwoThreads(tapping: Bool) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .milliseconds(1))
        let tapped = Mutex<[AccessLogRecord]>([])
        if tapping { writer.setTap { batch in tapped.withLock { $0 += batch } } }
        let perThread = 3000
        let route = RouteStandIn()
        func records(_ thread: Int) -> [AccessLogRecord] {
            (0..<perThread).map { index in
                var entry = record(url: "/thread\(thread)")
                entry.host = "host\(thread).example"
                entry.client = "192.0.2.\(thread)"
                entry.keyHash = 0xabc
                entry.collapsed = false
                entry.originMilliseconds = nil
                // Even milliseconds for one thread, odd for the other: the merge interleaves them.
                entry.timestamp = 1_767_225_600_000 + UnixMillis(2 * index + thread)
                entry.milliseconds = Double(index % 7)
                return entry
            }
        }
        let repeats = Mutex(0)
        let done = DispatchGroup()
        for thread in 0..<2 {
            let entries = records(thread)
            done.enter()
            Thread {
                var queued = 0
                for entry in entries {
                    if writer.appendRepeat(
                        head: UInt64(100 + thread), route: ObjectIdentifier(route), timestamp: entry.timestamp, status: entry.status,
                        bytes: entry.bytes, cache: entry.cache, tier: entry.tier, ttl: entry.ttl, keyHash: 0xabc,
                        nanoseconds: HitRing.nanoseconds(entry.milliseconds) ?? 0)
                    {
                        queued += 1
                    } else {
                        writer.append(entry, head: UInt64(100 + thread), route: route)
                    }
                }
                repeats.withLock { $0 += queued }
                done.leave()
            }.start()
        }
        await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }
        await writer.shutdown()
        let expected = records(0) + records(1)
        let written = try lines(of: path).dropLast()
        let lines = expected.map { $0.jsonLine() }.sorted()
        #expect(written.count == lines.count)
        let mismatch = zip(written.sorted(), lines).first { $0 != $1 }
        #expect(mismatch == nil, "\(mismatch.map { "\($0) is not \($1)" } ?? "")")
        if tapping {
            let seen = tapped.withLock { $0 }
            #expect(seen.count == expected.count)
            #expect(Set(seen.map { $0.jsonLine() }) == Set(expected.map { $0.jsonLine() }))
        }
        #expect(repeats.withLock { $0 } > perThread, "most records were repeats")
    }

    @Test("a log is appended to, never truncated")
    func appends() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        try Data("{\"earlier\":true}\n".utf8).write(to: URL(fileURLWithPath: path))
        let writer = try AccessLogWriter(path: path, flushInterval: .milliseconds(20))
        writer.append(record())
        await writer.shutdown()
        let written = try lines(of: path)
        #expect(written.count == 3)
        #expect(written.first == "{\"earlier\":true}")
        #expect(try parse(written[1])["url"] as? String == "/api/users/7?page=2")
    }

    @Test("concurrent shutdowns all return only once every appended line is written")
    func concurrentShutdowns() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        for index in 0..<5000 { writer.append(record(url: "/r\(index)")) }
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await writer.shutdown()
                    return writer.counts.written
                }
            }
            for await written in group { #expect(written == 5000) }
        }
        #expect(try lines(of: path).count == 5001)
    }

    @Test("shutdown suspends instead of blocking its thread while the writer thread finishes")
    func shutdownDoesNotBlockItsThread() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The log is a FIFO far larger than a pipe's buffer, so the writer thread can finish only
        // once someone reads. The reader starts when a task on the same single thread as the
        // shutdown gets to run: that happens at once if shutdown suspends, and never while it
        // blocks the thread. (The reader gives up waiting after 10 s, so the blocking case
        // fails instead of hanging.)
        let path = directory.appendingPathComponent("access.fifo").path
        #expect(mkfifo(path, 0o600) == 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        let count = 2000
        for index in 0..<count { writer.append(record(url: "/r\(index)")) }
        _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)

        let gate = DispatchSemaphore(value: 0)
        let drained = Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<(bytes: [UInt8], openedInTime: Bool), Never>) in
                Thread {
                    let openedInTime = gate.wait(timeout: .now() + .seconds(10)) == .success
                    var bytes: [UInt8] = []
                    var chunk = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let got = chunk.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                        if got <= 0 { break }  // end of file: the writer closed its end
                        bytes.append(contentsOf: chunk[0..<got])
                    }
                    continuation.resume(returning: (bytes, openedInTime))
                }.start()
            }
        }
        let thread = OneThreadExecutor()
        // Enqueued first, so it runs first on the one thread.
        let stopping = Task(executorPreference: thread) { await writer.shutdown() }
        let opening = Task(executorPreference: thread) { _ = gate.signal() }

        let (bytes, openedInTime) = await drained.value
        await stopping.value
        await opening.value
        #expect(openedInTime, "the shutdown held its thread until the writer finished")
        let lineCount = String(decoding: bytes, as: UTF8.self).split(separator: "\n").count
        #expect(lineCount == count)
        #expect(writer.counts.written == count)
    }

    @Test(
        "flush writes every queued record to the file before it returns"
    )
    func flushWrites() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        writer.append(record(url: "/first"))
        writer.append(record(url: "/second"))
        writer.flush()
        let written = try lines(of: path)
        #expect(try written.dropLast().map { try parse($0)["url"] as? String } == ["/first", "/second"])
        #expect(writer.counts.written == 2)
    }

    @Test("records past a thread's share of maxPending are dropped and counted, and the flush writes the rest")
    func dropsWhenFull() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        // Shards of 2, each half full at 1, which wakes the writer. The writer is held inside the
        // tap after its first write, so nothing drains the shard while it fills: exactly the
        // records past 2 are dropped. (An hour-long interval: no timed flush meanwhile.)
        let writer = try AccessLogWriter(
            path: path, maxPending: 2 * AccessLogWriter.shardCount, flushInterval: .seconds(3600))
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let allWritten = DispatchSemaphore(value: 0)
        let seen = Mutex(0)
        writer.setTap { records in
            let total = seen.withLock { total in
                total += records.count
                return total
            }
            if total == 1 {
                held.signal()
                _ = release.wait(timeout: .now() + 60)
            }
            if total == 3 { allWritten.signal() }
        }
        writer.append(record(url: "/kept"))
        #expect(held.wait(timeout: .now() + 60) == .success, "the half-full shard woke the writer")
        for _ in 0..<5 { writer.append(record(url: "/more")) }
        #expect(writer.counts.dropped == 3)
        release.signal()
        writer.flush()
        #expect(allWritten.wait(timeout: .now() + 60) == .success)
        #expect(writer.counts.written == 3)
        #expect(writer.counts.dropped == 3)
        #expect(try lines(of: path).dropLast().map { try parse($0)["url"] as? String } == ["/kept", "/more", "/more"])
    }

    @Test("a batch's timestamps, numbers and key hashes are written exactly, across seconds and at the extremes")
    func formattedInPlace() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        // One flush: the date part is reused within a second and re-formatted on each change,
        // including going back (a record that started earlier but ended later).
        let times: [UnixMillis] = [t0, t0 + 1, t0 + 876, t0 + 1000, t0 + 86_400_000, 0, 999, 1000, -1, t0 + 2]
        let numbers = [0, 7, -1, 1_000_000_007, Int.max, Int.min, 42, 100, -100, 9]
        let keys = ["", "a", "v1|http://origin|/x|fp", "k", "", "z", "0", "key-with-\u{00e9}", "x", "y"]
        for index in times.indices {
            var logged = record(url: "/r\(index)")
            logged.timestamp = times[index]
            logged.status = numbers[index]
            logged.bytes = numbers[index] / -2
            logged.key = keys[index]
            logged.milliseconds = Double(numbers[index] % 100_000) / 997
            writer.append(logged)
        }
        writer.flush()
        let written = try lines(of: path).dropLast()
        #expect(written.count == times.count)
        // The file is in start order; match each line to its record by URL. Integers are checked
        // in the text (JSONSerialization reads the largest ones as doubles).
        for line in written {
            let object = try parse(line)
            let index = try #require(Int((object["url"] as? String ?? "").dropFirst(2)))
            #expect(object["ts"] as? String == RFC3339.format(millis: times[index]))
            #expect(line.contains(#""status":\#(numbers[index]),"#))
            #expect(line.contains(#""bytes":\#(numbers[index] / -2),"#))
            #expect(object["key"] as? String == (keys[index].isEmpty ? "" : FNV1a.hex(keys[index])))
            let expected = (Double(numbers[index] % 100_000) / 997 * 1000).rounded() / 1000
            #expect(abs((object["ms"] as? Double ?? .nan) - expected) < 1e-9)
        }
    }

    @Test("records appended on several threads are all written, in the order their requests started")
    func severalThreads() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("access.log").path
        let writer = try AccessLogWriter(path: path, flushInterval: .seconds(3600))
        let threads = 4
        // Fewer in all than `recordsPerWake`: even threads that share a shard do not wake the
        // writer, and the one flush below writes them all (order is kept within a flush).
        let perThread = 100
        // Each thread appends its own requests, ending in its own order; together their start
        // times interleave.
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                var logged = record(url: "/t\(thread)/\(index)")
                logged.timestamp = t0 + UnixMillis(index * threads + thread)
                writer.append(logged)
            }
        }
        writer.flush()
        let written = try lines(of: path).dropLast().map { try parse($0) }
        #expect(written.count == threads * perThread)
        let urls = written.compactMap { $0["url"] as? String }
        #expect(Set(urls).count == threads * perThread, "each record once")
        let expected = (0..<perThread).flatMap { index in (0..<threads).map { "/t\($0)/\(index)" } }
        #expect(urls == expected, "by start time")
        #expect(writer.counts.dropped == 0)
    }

    @Test("a shard half full wakes the writer before its interval is up", .timeLimit(.minutes(1)))
    func halfFullWakesTheWriter() async throws {
        let writer = try AccessLogWriter(path: nil, maxPending: 8 * AccessLogWriter.shardCount, flushInterval: .seconds(3600))
        let seen = Mutex(0)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writer.setTap { records in
                let total = seen.withLock { total in
                    total += records.count
                    return total
                }
                if total == 4 { continuation.resume() }
            }
            for index in 0..<4 { writer.append(record(url: "/r\(index)")) }
        }
        #expect(writer.counts.written == 4)
    }

    @Test("a path that cannot be opened throws")
    func cannotOpen() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a-file")
        try Data().write(to: file)
        #expect(throws: (any Error).self) {
            _ = try AccessLogWriter(path: file.appendingPathComponent("access.log").path)
        }
        #expect(AccessLogError.cannotOpen("/x/y.log").description == "cannot open access log /x/y.log for writing")
    }
}

/// A task executor with one thread that runs jobs in the order they were enqueued. The thread
/// parks on its condition when idle and lives until the test process ends.
private final class OneThreadExecutor: TaskExecutor, @unchecked Sendable {
    // `jobs` is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init() {
        let thread = Thread { [self] in self.runJobs() }
        thread.name = "test-one-thread-executor"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// A route as the log sees one: an object whose identity names it.
private final class RouteStandIn: Sendable {}
