public import Logging
public import Synchronization

/// Keeps every line a test's logger receives, as `level: message key=value…` (metadata sorted
/// by key), for tests of what paca logs and how often.
public final class CapturedLog: Sendable {
    /// The lines so far, in the order they were logged.
    public let lines = Mutex<[String]>([])

    public init() {}

    /// A logger whose every line lands here (all levels).
    public var logger: Logger {
        Logger(label: "test.paca") { _ in Handler(log: self) }
    }

    /// The lines at `level`.
    public func lines(_ level: Logger.Level) -> [String] {
        lines.withLock { $0.filter { $0.hasPrefix("\(level): ") } }
    }

    /// How many lines at `level` contain `text`.
    public func count(_ level: Logger.Level, containing text: String) -> Int {
        lines(level).filter { $0.contains(text) }.count
    }

    /// Every line.
    public var all: [String] { lines.withLock { $0 } }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.lines.withLock { $0.append("\(event.level): \(event.message) \(fields)") }
        }
    }
}
