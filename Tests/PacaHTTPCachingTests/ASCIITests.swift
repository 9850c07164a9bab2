import Testing

@testable import PacaHTTPCaching

@Suite("ASCII helpers")
struct ASCIITests {
    /// Every string of up to `length` symbols from `symbols`.
    static func strings(_ symbols: [String], upTo length: Int) -> [String] {
        var all = [""]
        var layer = [""]
        for _ in 0..<length {
            layer = layer.flatMap { prefix in symbols.map { prefix + $0 } }
            all += layer
        }
        return all
    }

    @Test("equalsLowercased is byte equality after mapping A-Z in the first string, for every pair of short strings")
    func equalsLowercased() {
        // Letters at both ends of the range, the bytes next to them (@ [ ` {) and a non-ASCII one.
        let texts = Self.strings(["a", "A", "z", "Z", "@", "[", "`", "\u{E9}"], upTo: 3)
        let lowered = texts.filter { !$0.utf8.contains { $0 >= 0x41 && $0 <= 0x5A } }
        var checked = 0
        for s in texts {
            let mapped = s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
            for other in lowered {
                let expected = mapped == Array(other.utf8)
                if ASCII.equalsLowercased(s, other) != expected {
                    Issue.record("\(s.debugDescription) vs \(other.debugDescription)")
                    return
                }
                checked += 1
            }
        }
        #expect(checked == texts.count * lowered.count)
    }

    @Test("lowercased maps A-Z and keeps every other byte")
    func lowercased() {
        for s in Self.strings(["a", "A", "Z", "@", "[", "\u{E9}", "\u{C9}"], upTo: 4) {
            let expected = String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
            #expect(ASCII.lowercased(s) == expected, "\(s.debugDescription)")
        }
    }

    @Test("trimmed drops SP, HTAB, CR and LF at both ends and nothing else")
    func trimmed() {
        for s in Self.strings([" ", "\t", "\r", "\n", "a", "\u{E9}", "\u{A0}"], upTo: 4) {
            var bytes = Array(s.utf8)
            let ws: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A]
            while let first = bytes.first, ws.contains(first) { bytes.removeFirst() }
            while let last = bytes.last, ws.contains(last) { bytes.removeLast() }
            #expect(ASCII.trimmed(s) == String(decoding: bytes, as: UTF8.self), "\(s.debugDescription)")
        }
    }
}
