import Foundation
import Testing

@testable import PacaAccessLog

@Suite("JSONLineWriter")
struct JSONLineWriterTests {
    /// The byte-by-byte definition the word test must agree with.
    static func needsEscapingByBytes(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }

    @Test("the eight-bytes-at-a-time escape check agrees with the byte check for every byte in every place")
    func escapeCheckEveryByte() {
        var checked = 0
        for length in 1...19 {
            for place in 0..<length {
                for value in UInt8(0)...UInt8(255) {
                    // Plain letters around the byte, and a byte of 0x80 or more before it, which
                    // must not disturb the check of its neighbours.
                    for filler in [UInt8(ascii: "a"), 0xC3] {
                        var bytes = [UInt8](repeating: filler, count: length)
                        bytes[place] = value
                        let fast = bytes.withUnsafeBufferPointer { JSONLineWriter.needsEscaping($0) }
                        if fast != Self.needsEscapingByBytes(bytes) {
                            Issue.record("length \(length), byte \(value) at \(place), filler \(filler): \(fast)")
                            return
                        }
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 2 * 256 * (1...19).reduce(0, +))
        // Two bytes that need escaping in one word, and the borrow of one next to the other.
        for pair in [[0x00, 0x22], [0x22, 0x5C], [0x1F, 0x20], [0x21, 0x22], [0x5B, 0x5C], [0x5C, 0x5D]] as [[UInt8]] {
            let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 3) + pair + [UInt8](repeating: UInt8(ascii: "a"), count: 3)
            #expect(bytes.withUnsafeBufferPointer { JSONLineWriter.needsEscaping($0) } == Self.needsEscapingByBytes(bytes))
        }
    }

    static func written(_ body: (inout JSONLineWriter) -> Void) -> String {
        let bytes = [UInt8](unsafeUninitializedCapacity: 64) { buffer, count in
            var writer = JSONLineWriter(buffer)
            writer.reserve(64)
            body(&writer)
            count = writer.count
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("integers are written as Swift writes them: every length, each side of every power of ten, the extremes")
    func integers() {
        var values: [Int] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65_535, .max, .min, .min + 1, -1, -10, -100]
        var power = 1
        for _ in 1...18 {
            power *= 10
            values += [power - 1, power, power + 1, -power, 7 * power / 3]
        }
        for value in values {
            #expect(Self.written { $0.integer(value) } == String(value), "\(value)")
        }
        #expect(Self.written { $0.fixed3(1234.5678) } == "1234.568")
        #expect(Self.written { $0.fixed3(-0.0004) } == "0.000")
        #expect(Self.written { $0.fixed3(100.0) } == "100.000")
    }

    @Test("three decimals round half away from zero, as rounded() does, for halves, their neighbours, negatives and huge values")
    func fixed3RoundsAsRounded() {
        func reference(_ value: Double) -> String {
            let scaled = (value * 1000).rounded()
            guard scaled.isFinite else { return "null" }
            let thousandths = Int64(max(-9.2e18, min(9.2e18, scaled)))
            let magnitude = thousandths.magnitude
            let fraction = String(magnitude % 1000)
            return (thousandths < 0 ? "-" : "") + "\(magnitude / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
        var values: [Double] = [0, -0.0, 0.0005, -0.0005, 0.0015, 2.5e-3, 1e15, -1e15, 4.5e15, 1e300, -1e300, .infinity, -.infinity, .nan]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let halfway = (Double(Int.random(in: -2_000_000...2_000_000, using: &generator)) + 0.5) / 1000
            values += [halfway, halfway.nextUp, halfway.nextDown, Double.random(in: -1e6...1e6, using: &generator)]
        }
        for value in values where Self.written({ $0.fixed3(value) }) != reference(value) {
            Issue.record("\(value): \(Self.written { $0.fixed3(value) }), not \(reference(value))")
            return
        }
    }

    /// `string`'s output by the definition: quoted, each byte escaped on its own.
    static func expectedString(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case UInt8(ascii: "\n"): out += Array(#"\n"#.utf8)
            case UInt8(ascii: "\r"): out += Array(#"\r"#.utf8)
            case UInt8(ascii: "\t"): out += Array(#"\t"#.utf8)
            case 0..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    @Test("a line that differs from the one before only in its times is found repeated, and one that differs in anything else is not")
    func repeatedLinesAreFound() {
        var record = AccessLogRecord(
            timestamp: 1_767_225_600_123, method: "GET", host: "example.com", url: "/api/v1/catalogue/items/1234567890", route: "items",
            status: 200, bytes: 1024, cache: .hit, tier: "l1", ttl: 59, collapsed: false, key: "k", keyHash: 0x1234, milliseconds: 0.25,
            client: "127.0.0.1")
        var repeated = RepeatedStrings()
        var timestamps = JSONLineWriter.TimestampCache()
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 4096)
        defer { buffer.deallocate() }
        var writer = JSONLineWriter(buffer)
        withUnsafePointer(to: record) { #expect(!repeated.repeatsLine($0, newline: true), "nothing written yet") }
        withUnsafePointer(to: record) {
            AccessLogRecord.write($0, to: &writer, timestamps: &timestamps, repeated: &repeated, bound: 1024, newline: true)
        }
        record.timestamp += 1
        record.milliseconds = 7.5
        record.originMilliseconds = 3
        withUnsafePointer(to: record) { #expect(repeated.repeatsLine($0, newline: true)) }
        withUnsafePointer(to: record) { #expect(!repeated.repeatsLine($0, newline: false), "a line without its newline") }
        var other = record
        other.status = 304
        withUnsafePointer(to: other) { #expect(!repeated.repeatsLine($0, newline: true)) }
        other = record
        other.url = "/api/v1/catalogue/items/1234567891"
        withUnsafePointer(to: other) { #expect(!repeated.repeatsLine($0, newline: true)) }
        other = record
        other.keyHash = nil
        withUnsafePointer(to: other) { #expect(!repeated.repeatsLine($0, newline: true), "a key whose hash is not at hand") }
        repeated.forget()
        withUnsafePointer(to: record) { #expect(!repeated.repeatsLine($0, newline: true), "the memory was written out") }
    }

    /// What `body` writes into a buffer of `room` bytes, and whether the bytes after the
    /// written ones are still the guard bytes they were filled with.
    static func writtenBytes(room: Int, _ body: (inout JSONLineWriter) -> Void) -> (bytes: [UInt8], guardIntact: Bool) {
        let guardByte: UInt8 = 0xA5
        var storage = [UInt8](repeating: guardByte, count: room + 64)
        let count = storage.withUnsafeMutableBufferPointer { buffer in
            var writer = JSONLineWriter(UnsafeMutableBufferPointer(rebasing: buffer[..<room]))
            writer.reserve(room)
            body(&writer)
            return writer.count
        }
        return (Array(storage[..<count]), storage[count...].allSatisfy { $0 == guardByte })
    }

    @Test(
        "strings of every length up to 40, plain or with a byte to escape in any place, are copied exactly and nothing past them is touched"
    )
    func stringsOfEveryLength() {
        for length in 0...40 {
            // Distinct bytes, so a byte copied to the wrong place shows.
            let plain = (0..<length).map { UInt8(ascii: "A") + UInt8($0 % 58) }.map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "z") : $0 }
            var variants = [plain]
            for place in 0..<length {
                for special in [UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x00, 0x1F, UInt8(ascii: "\n")] {
                    var bytes = plain
                    bytes[place] = special
                    variants.append(bytes)
                }
            }
            for bytes in variants {
                let text = String(decoding: bytes, as: UTF8.self)
                let (written, guardIntact) = Self.writtenBytes(room: 6 * length + 2) { $0.string(text) }
                #expect(written == Self.expectedString(bytes), "\(bytes)")
                #expect(guardIntact, "wrote past the string: \(bytes)")
            }
        }
    }

    @Test("byte runs of every length up to 40 are copied exactly, and nothing past them is touched")
    func runsOfEveryLength() {
        for length in 0...40 {
            let run = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let (written, guardIntact) = Self.writtenBytes(room: length) { writer in
                run.withUnsafeBufferPointer { writer.bytes($0) }
            }
            #expect(written == run, "length \(length)")
            #expect(guardIntact, "length \(length)")
        }
    }
}
