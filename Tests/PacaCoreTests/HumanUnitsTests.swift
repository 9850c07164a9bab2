import PacaCore
import Testing

@Suite("HumanUnits")
struct HumanUnitsTests {
    struct BytesCase: Sendable, CustomTestStringConvertible {
        let text: String
        let bytes: Int?
        var testDescription: String { "\"\(text)\" → \(bytes.map(String.init) ?? "nil")" }
    }

    static let byteCases: [BytesCase] = [
        .init(text: "0", bytes: 0),
        .init(text: "512", bytes: 512),
        .init(text: "512B", bytes: 512),
        .init(text: "64KB", bytes: 64 << 10),
        .init(text: "64kb", bytes: 64 << 10),
        .init(text: "64K", bytes: 64 << 10),
        .init(text: "2KiB", bytes: 2048),
        .init(text: "100MB", bytes: 100 << 20),
        .init(text: "100M", bytes: 100 << 20),
        .init(text: "3MiB", bytes: 3 << 20),
        .init(text: "1GB", bytes: 1 << 30),
        .init(text: "1g", bytes: 1 << 30),
        .init(text: "2TB", bytes: 2 << 40),
        .init(text: " 10 MB ", bytes: 10 << 20),
        .init(text: "\t7\tKB", bytes: 7 << 10),
        .init(text: "", bytes: nil),
        .init(text: "   ", bytes: nil),
        .init(text: "MB", bytes: nil),
        .init(text: "B", bytes: nil),
        .init(text: "1.5MB", bytes: (1 << 20) + (1 << 19)),
        .init(text: "1.5", bytes: nil),
        .init(text: ".5MB", bytes: nil),
        .init(text: "-1KB", bytes: nil),
        .init(text: "+1KB", bytes: nil),
        .init(text: "abc", bytes: nil),
        .init(text: "10XB", bytes: nil),
        .init(text: "10 PB", bytes: nil),
        .init(text: "1 000", bytes: nil),
        .init(text: "\u{0661}\u{0662}", bytes: nil),
        .init(text: "99999999999999999999", bytes: nil),
        .init(text: "9000000000TB", bytes: nil),
    ]

    @Test("parseBytes", arguments: byteCases)
    func parseBytes(_ c: BytesCase) {
        #expect(HumanUnits.parseBytes(c.text) == c.bytes)
    }

    struct DurationCase: Sendable, CustomTestStringConvertible {
        let text: String
        let duration: Duration?
        var testDescription: String { "\"\(text)\" → \(duration.map { "\($0)" } ?? "nil")" }
    }

    static let durationCases: [DurationCase] = [
        .init(text: "50ms", duration: .milliseconds(50)),
        .init(text: "0ms", duration: .zero),
        .init(text: "60s", duration: .seconds(60)),
        .init(text: "60", duration: .seconds(60)),
        .init(text: "0", duration: .zero),
        .init(text: "5m", duration: .seconds(300)),
        .init(text: "1h", duration: .seconds(3600)),
        .init(text: "1H", duration: .seconds(3600)),
        .init(text: "2d", duration: .seconds(172_800)),
        .init(text: "1500MS", duration: .milliseconds(1500)),
        .init(text: " 2 s ", duration: .seconds(2)),
        .init(text: "", duration: nil),
        .init(text: "s", duration: nil),
        .init(text: "ms", duration: nil),
        .init(text: "-5s", duration: nil),
        .init(text: "1.5s", duration: nil),
        .init(text: "5x", duration: nil),
        .init(text: "5 minutes", duration: nil),
        .init(text: "1h30m", duration: nil),
        .init(text: "99999999999999999999s", duration: nil),
        .init(text: "9223372036854775807h", duration: nil),
    ]

    @Test("parseDuration", arguments: durationCases)
    func parseDuration(_ c: DurationCase) {
        #expect(HumanUnits.parseDuration(c.text) == c.duration)
    }

    struct FormatCase: Sendable, CustomTestStringConvertible {
        let bytes: Int
        let text: String
        var testDescription: String { "\(bytes) → \(text)" }
    }

    static let formatCases: [FormatCase] = [
        .init(bytes: 0, text: "0B"),
        .init(bytes: 1, text: "1B"),
        .init(bytes: 1023, text: "1023B"),
        .init(bytes: 1024, text: "1KB"),
        .init(bytes: 1536, text: "1.5KB"),
        .init(bytes: 1126, text: "1.1KB"),
        .init(bytes: 64 << 10, text: "64KB"),
        .init(bytes: 100 << 20, text: "100MB"),
        .init(bytes: (1 << 20) + (1 << 19), text: "1.5MB"),
        .init(bytes: 1 << 30, text: "1GB"),
        .init(bytes: 3 << 40, text: "3TB"),
        .init(bytes: 2048 << 40, text: "2048TB"),
    ]

    @Test("formatBytes", arguments: formatCases)
    func formatBytes(_ c: FormatCase) {
        #expect(HumanUnits.formatBytes(c.bytes) == c.text)
    }

    @Test("whole sizes read back exactly", arguments: [0, 1, 1023, 1024, 64 << 10, 100 << 20, 1 << 30, 5 << 40])
    func wholeRoundTrip(bytes: Int) {
        #expect(HumanUnits.parseBytes(HumanUnits.formatBytes(bytes)) == bytes)
    }

    @Test(
        "fractional sizes read back",
        arguments: [1536, (1 << 20) + (1 << 19)]
    )
    func fractionalRoundTrip(bytes: Int) {
        #expect(HumanUnits.parseBytes(HumanUnits.formatBytes(bytes)) == bytes)
    }

    @Test("trimmingSpaces removes spaces and tabs at both ends only")
    func trimmingSpaces() {
        #expect(" \t a b \t ".trimmingSpaces() == "a b")
        #expect("".trimmingSpaces() == "")
        #expect(" \t ".trimmingSpaces() == "")
        #expect("\na\n".trimmingSpaces() == "\na\n")
    }
}
