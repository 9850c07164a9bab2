/// Streams a log file, plain or gzip (a name ending in `.gz`), one request at a time, in any of
/// the `LogFormat`s; the format is detected from the first lines unless given. Memory stays
/// bounded whatever the file's size (a 1 MiB chunk and the line in progress). A line that does
/// not parse is counted, its number kept among the first few, and skipped: never fatal.
/// Blank lines, and `#` comment lines in traces, are skipped without being counted as bad.
public final class LogReader: Sendable {
    /// How many malformed line numbers a report keeps.
    public static let reportedMalformedLines = 10
    /// How many non-blank lines detection looks at.
    static let detectionLines = 50

    /// The file read.
    public let path: String
    /// The format, given or detected.
    public let format: LogFormat

    /// Opens `path` (to check it is readable) and, when `format` is `nil`, detects the format
    /// from its first lines: the format that parses most of the first 50 non-blank lines wins.
    /// Throws `LogReadError` when the file cannot be read or no format fits.
    public init(path: String, format: LogFormat? = nil) throws {
        self.path = path
        if let format {
            self.format = format
            // Fail now, not in the middle of a run, when the file cannot be opened.
            try LineStream(path: path).forEachLine { _, _ in false }
        } else {
            self.format = try Self.detect(path: path)
        }
    }

    /// Calls `body` with each request of the log, in order; returns what was counted. Throws
    /// what `body` throws, and `LogReadError` when the file cannot be read further (a read
    /// error, corrupt gzip data) — a bad line is never an error.
    public func forEach(_ body: (LogRequest) throws -> Void) throws -> LogReadReport {
        var report = LogReadReport()
        let parse = Self.parser(for: format)
        let format = format
        try LineStream(path: path).forEachLine { line, number in
            report.lines = number
            guard let line else {
                report.countMalformed(line: number)
                return true
            }
            if Self.isSkippable(line, format: format) { return true }
            if let request = parse(line) {
                try body(request)
            } else {
                report.countMalformed(line: number)
            }
            return true
        }
        return report
    }

    static func parser(for format: LogFormat) -> (UnsafeBufferPointer<UInt8>) -> LogRequest? {
        switch format {
        case .pacaJSON: JSONLogLineParser.parse
        case .combined, .nginxMain: { CombinedLogLineParser.parse($0)?.request }
        case .trace: TraceLineParser.parse
        }
    }

    static func isSkippable(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat) -> Bool {
        var scanner = ByteScanner(line)
        scanner.skipSpaces()
        return scanner.atEnd || (format == .trace && scanner.current == UInt8(ascii: "#"))
    }

    private static func detect(path: String) throws -> LogFormat {
        var votes: [LogFormat: Int] = [:]
        var seen = 0
        try LineStream(path: path).forEachLine { line, _ in
            guard let line else { return true }
            if isSkippable(line, format: .trace) { return true }
            seen += 1
            if JSONLogLineParser.parse(line) != nil {
                votes[.pacaJSON, default: 0] += 1
            } else if let parsed = CombinedLogLineParser.parse(line) {
                votes[parsed.tail == .forwardedForAndRequestTime ? .nginxMain : .combined, default: 0] += 1
            } else if TraceLineParser.parse(line) != nil {
                votes[.trace, default: 0] += 1
            }
            return seen < detectionLines
        }
        // Ties go to the more specific format (the order of `allCases`).
        let best = LogFormat.allCases.max { (votes[$0] ?? 0, $1.order) < (votes[$1] ?? 0, $0.order) }
        guard let best, (votes[best] ?? 0) > 0 else { throw LogReadError.unknownFormat(path: path) }
        return best
    }
}

extension LogFormat {
    fileprivate var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

extension LogReadReport {
    mutating func countMalformed(line: Int) {
        malformed += 1
        if firstMalformedLines.count < LogReader.reportedMalformedLines { firstMalformedLines.append(line) }
    }
}
