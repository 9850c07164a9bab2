import Logging
import NIOCore
import PacaCore
import PacaHTTPCaching
import PacaTestSupport
import Synchronization

@testable import PacaRedis

/// An entry whose storage lifetime ends `lifetime` ms after `now`.
func makeEntry(
    _ key: String, body: ByteBuffer = ByteBuffer(string: "hello"), now: UnixMillis, lifetime: Int64 = 60_000, headers: [HTTPField] = []
)
    -> CacheEntry
{
    CacheEntry(
        key: key, status: 200,
        headers: headers.isEmpty ? [HTTPField(name: "Content-Type", value: "application/json")] : headers,
        body: body,
        timing: EntryTiming(
            requestTime: now - 5, responseTime: now, correctedInitialAge: 0, freshnessLifetime: lifetime / 2, staleIfError: 1000,
            mustRevalidate: true, storageExpiry: now + lifetime),
        etag: "\"v1\"", lastModified: "Wed, 21 Oct 2015 07:28:00 GMT")
}

/// A tier on `server` with test-friendly settings.
func makeTier(
    _ server: RedisServer, namespace: String = "paca", clock: ManualWallClock = ManualWallClock(), timeout: Duration = .milliseconds(250),
    poolSize: Int = 2, maxEntryBytes: Int = 1 << 20, failureThreshold: Int = 3, sealer: (any EntrySealer)? = nil,
    logger: Logger = Logger(label: "test.redis")
) throws -> RedisTier {
    let configuration = try RedisTier.Configuration(
        url: server.url, namespace: namespace, timeout: timeout, poolSize: poolSize, maxEntryBytes: maxEntryBytes,
        failureThreshold: failureThreshold, openDuration: .seconds(5))
    return RedisTier(configuration: configuration, clock: clock, sealer: sealer, logger: logger)
}

/// Collects log messages in memory.
final class LogRecorder: Sendable {
    let messages = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "test.redis") { _ in RecordingHandler(recorder: self) }
    }

    func count(_ level: Logger.Level, containing text: String) -> Int {
        messages.withLock { $0.filter { $0.0 == level && $0.1.contains(text) }.count }
    }

    var all: [String] { messages.withLock { $0.map { "\($0.0): \($0.1)" } } }
}

struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let text = "\(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        recorder.messages.withLock { $0.append((event.level, text)) }
    }
}
