import Foundation
public import Logging
import Synchronization

/// Appends access-log records to a file. `append` only moves the record into a bounded in-memory
/// batch under a short lock; a background thread formats and writes batches every
/// `flushInterval` (default 200 ms), so no request waits on the disk. When the batch is full
/// (default 100,000 records) new records are dropped and counted, never waited on.
/// `shutdown()` suspends (never blocks its thread) until the writer thread has written every
/// record appended before it and closed the file.
///
/// A tap (`setTap`) sees every batch after it is written, on the writer thread: the prewarmer
/// learns from the records that way, off the request path. Without a path the writer keeps no
/// file and only feeds the tap.
public final class AccessLogWriter: Sendable {
    private struct State {
        var batch: [AccessLogRecord] = []
        var dropped = 0
        var written = 0
        var stopping = false
        /// The writer thread has written its last batch and closed the file.
        var finished = false
        /// `shutdown()` callers waiting for `finished`.
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let signal = NSCondition()
    private let path: String?
    private let tap = Mutex<(@Sendable ([AccessLogRecord]) -> Void)?>(nil)
    private let maxPending: Int
    private let flushInterval: Duration
    private let logger: Logger

    /// Opens (creating, appending) `path` and starts the writer thread. Throws when the file
    /// cannot be opened. With `path` `nil` no file is written: records only reach the tap.
    public init(
        path: String?, maxPending: Int = 100_000, flushInterval: Duration = .milliseconds(200),
        logger: Logger = Logger(label: "paca.accesslog")
    ) throws {
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            guard let handle = FileHandle(forWritingAtPath: path) ?? Self.create(path) else {
                throw AccessLogError.cannotOpen(path)
            }
            // A pipe or terminal (`/dev/stdout` under a process supervisor) cannot seek; it is
            // appended to all the same.
            _ = try? handle.seekToEnd()
            // The handle is in place before anyone can call `flush()`.
            handleBox.withLock { $0 = handle }
        }
        self.path = path
        self.maxPending = maxPending
        self.flushInterval = flushInterval
        self.logger = logger
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "paca-accesslog"
        thread.start()
    }

    private static func create(_ path: String) -> FileHandle? {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { return nil }
        return FileHandle(forWritingAtPath: path)
    }

    /// Queues a record; drops it (and counts it) when the batch is full.
    public func append(_ record: AccessLogRecord) {
        state.withLock { state in
            if state.batch.count >= maxPending {
                state.dropped += 1
            } else {
                state.batch.append(record)
            }
        }
    }

    /// Hands every batch, once written, to `tap` (on the writer thread).
    public func setTap(_ tap: (@Sendable ([AccessLogRecord]) -> Void)?) {
        self.tap.withLock { $0 = tap }
    }

    /// Records written and dropped so far.
    public var counts: (written: Int, dropped: Int) {
        state.withLock { ($0.written, $0.dropped) }
    }

    /// Writes everything queued so far and returns when it is on its way to the file.
    public func flush() {
        let records = state.withLock { state -> [AccessLogRecord] in
            defer { state.batch.removeAll(keepingCapacity: true) }
            return state.batch
        }
        write(records)
    }

    /// Stops the writer thread and returns once every record appended before the call is
    /// written and the file is closed. Suspends rather than blocking: the writer thread resumes
    /// the caller. Every caller waits for the same end; after it, calls return at once.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (finished, first) = state.withLock { state -> (Bool, Bool) in
                if state.finished { return (true, false) }
                state.shutdownWaiters.append(continuation)
                defer { state.stopping = true }
                return (false, !state.stopping)
            }
            if finished {
                continuation.resume()
            } else if first {
                // `stopping` was set before taking the condition's lock, and the loop reads it
                // under that lock, so this wake-up is never missed.
                signal.lock()
                signal.signal()
                signal.unlock()
            }
        }
    }

    private let handleBox = Mutex<FileHandle?>(nil)

    private func write(_ records: [AccessLogRecord]) {
        guard !records.isEmpty else { return }
        defer { tap.withLock { $0 }?(records) }
        guard path != nil else {
            state.withLock { $0.written += records.count }
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * 320)
        for record in records {
            record.appendJSON(to: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
        handleBox.withLock { handle in
            guard let handle else { return }
            do {
                try handle.write(contentsOf: Data(bytes))
            } catch {
                logger.warning("access log write failed", metadata: ["path": "\(path ?? "")", "error": "\(error)"])
            }
        }
        state.withLock { $0.written += records.count }
    }

    private func runLoop() {
        let interval = Double(flushInterval.milliseconds) / 1000
        while true {
            signal.lock()
            // `stopping` is checked under the condition's lock, so a shutdown's signal is never missed.
            if !state.withLock({ $0.stopping }) {
                _ = signal.wait(until: Date(timeIntervalSinceNow: interval))
            }
            signal.unlock()
            flush()
            if state.withLock({ $0.stopping }) { break }
        }
        flush()
        handleBox.withLock { handle in
            try? handle?.close()
            handle = nil
        }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.shutdownWaiters = [] }
            return state.shutdownWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Access-log failures.
public enum AccessLogError: Error, CustomStringConvertible {
    /// The file could not be opened for appending.
    case cannotOpen(String)

    /// One line for the operator.
    public var description: String {
        switch self {
        case .cannotOpen(let path): "cannot open access log \(path) for writing"
        }
    }
}
