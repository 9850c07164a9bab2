import Foundation
import Logging
import PacaAccessLog
import PacaCore
import PacaTestSupport
import Synchronization
import Testing

private func record(_ index: Int) -> AccessLogRecord {
    AccessLogRecord(
        timestamp: 1_767_225_600_000 + UnixMillis(index), method: "GET", host: "h", url: "/r\(index)", route: "", status: 200,
        bytes: 0, cache: .hit, milliseconds: 0.1, client: "127.0.0.1")
}

@Suite("AccessLogWriter on a full disk", .timeLimit(.minutes(1)))
struct AccessLogWriteFailureTests {
    @Test(
        "writes that fail (/dev/full: ENOSPC) count their lines as failed, not written, and log one warning, not one per write",
        .enabled(if: FileManager.default.isWritableFile(atPath: "/dev/full")))
    func fullDisk() async throws {
        let captured = CapturedLog()
        let writer = try AccessLogWriter(path: "/dev/full", flushInterval: .seconds(3600), logger: captured.logger)
        // Three flushes of lines, one of them more than one 64 KiB write.
        for batch in 0..<3 {
            for index in 0..<(batch == 1 ? 1000 : 10) { writer.append(record(index)) }
            writer.flush()
        }
        await writer.shutdown()
        #expect(writer.counts.failed == 1020)
        #expect(writer.counts.written == 0)
        #expect(writer.counts.dropped == 0)
        #expect(captured.lines(.warning).count == 1)
        #expect(captured.count(.warning, containing: "access log writes are failing; lines are lost until a write succeeds") == 1)
    }
}
