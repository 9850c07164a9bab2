import Foundation
public import Logging
public import PacaCore
import Synchronization

/// Appends access-log records to a file. `append` only moves the record into its thread's shard
/// (one per event loop, each under a lock no other loop takes); a background thread collects the
/// shards, formats and writes every `flushInterval` (default 50 ms: short batches, so a core shared
/// with an event loop is taken from it in slices of a few hundred records), so no request waits on the
/// disk or on another loop. A shard holding `recordsPerWake` records wakes the writer early; the
/// writer thread runs under `SCHED_BATCH` on Linux, so that a wake does not preempt the loop
/// that asked for it (`WriterThread`). The
/// records of one flush are written in the order their requests started. When a shard is full (its share of
/// `maxPending`, default 100,000 records in all) new records are dropped and counted, never
/// waited on.
/// `shutdown()` suspends (never blocks its thread) until the writer thread has written every
/// record appended before it and closed the file.
///
/// A tap (`setTap`) sees every batch after it is written, on the writer thread: the prewarmer
/// learns from the records that way, off the request path. Without a path the writer keeps no
/// file and only feeds the tap.
public final class AccessLogWriter: Sendable {
    /// Whether the file takes what is written. A failure is logged when it starts and when it
    /// ends, not for each write in between: a full disk would otherwise log at the request rate.
    private enum WriteHealth {
        case healthy
        /// Writes fail; this many lines are lost so far.
        case failing(lostLines: Int)
    }

    private struct State {
        var dropped = 0
        var written = 0
        /// Lines formatted but lost to failed writes.
        var failed = 0
        var health = WriteHealth.healthy
        var stopping = false
        /// A shard reached its wake count: flush now rather than at the end of the interval.
        var wakeRequested = false
        /// The writer thread has written its last batch and closed the file.
        var finished = false
        /// `shutdown()` callers waiting for `finished`.
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let signal = NSCondition()
    private let path: String?
    private let tap = Mutex<(@Sendable ([AccessLogRecord]) -> Void)?>(nil)
    /// Shards, one per processor and at least 8 (at most 64): each event loop gets its own (and
    /// its own ring: a ring has one producer, and a loop that shares a shard with another that
    /// owns the ring logs its hits whole, under the shard's lock). Threads beyond this many share
    /// shards two by two, and so on.
    public static let shardCount = min(64, max(8, ProcessInfo.processInfo.activeProcessorCount))
    private let shards: [AccessLogShard]
    /// `shards`, which keeps them alive, as unretained references: an append on the event loop
    /// reaches its shard without a retain and a release of it.
    private let unretainedShards: [Unmanaged<AccessLogShard>]
    private let flushInterval: Duration
    private let logger: Logger

    /// Opens (creating, appending) `path` and starts the writer thread. Throws when the file
    /// cannot be opened. With `path` `nil` no file is written: records only reach the tap.
    /// `maxPending` bounds the records waiting in all; each of the `shardCount` shards holds
    /// its share (at least one), and its ring as many hits more, up to `hitsPerRing`.
    public init(
        path: String?, maxPending: Int = 100_000, flushInterval: Duration = .milliseconds(50),
        logger: Logger = Logger(label: "paca.accesslog")
    ) throws {
        if let path {
            let handle = try Self.openForAppending(path)
            // The handle is in place before anyone can call `flush()`.
            handleBox.withLock { $0 = handle }
        }
        self.path = path
        let perShard = max(1, maxPending / Self.shardCount)
        self.shards = (0..<Self.shardCount).map { _ in
            AccessLogShard(
                capacity: perShard, wakeCount: max(1, min(perShard / 2, Self.recordsPerWake)),
                ringCapacity: min(perShard, Self.hitsPerRing))
        }
        self.unretainedShards = shards.map { Unmanaged.passUnretained($0) }
        self.flushInterval = flushInterval
        self.logger = logger
        let thread = Thread { [self] in self.runLoop() }
        thread.start()
    }

    /// Opens `path` for appending, creating it (mode 0644) and its directory. `O_APPEND`: every
    /// write lands at the end of the file as it is then, so a file truncated under paca
    /// (`logrotate`'s `copytruncate`) is written from its new end, not from the old offset; a
    /// pipe or terminal (`/dev/stdout` under a process supervisor) is written as it is.
    private static func openForAppending(_ path: String) throws -> FileHandle {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AccessLogError.cannotOpen(path) }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Opens the file at `path` again and writes to it from now on: after `logrotate` (or an
    /// operator) moved the file away, a new one is created in its place. Every record appended
    /// before the call is written to the old file first. Throws when the path cannot be opened;
    /// the old file then stays in use. Does nothing without a path or once shut down.
    public func reopen() throws {
        guard let path else { return }
        try flushing.withLock { _ in
            flushQueued()
            guard !state.withLock({ $0.stopping }) else { return }
            let fresh = try Self.openForAppending(path)
            let old = handleBox.withLock { handle in
                defer { handle = fresh }
                return handle
            }
            try? old?.close()
        }
    }

    /// Queues a record in the calling thread's shard; drops it (and counts it) when that shard
    /// is full.
    public func append(_ record: consuming AccessLogRecord) {
        if shards[ThreadSlot.current % Self.shardCount].append(record) { wake() }
    }

    /// Queues `record`, answered by `route` for a request whose head has serial `head`
    /// (`ProxyRequest.headSerial`, nonzero) and whose client is its peer, so that the next
    /// records of the same head, route and key may be queued without their strings
    /// (`appendRepeat`): a hit goes into the ring of the calling thread's shard, when the thread
    /// is the ring's producer and it has room; anything else as `append(_:)`.
    public func append(_ record: consuming AccessLogRecord, head: UInt64, route: any AnyObject & Sendable) {
        let thread = ThreadSlot.current
        let shard = shards[thread % Self.shardCount]
        if shard.ring.isProducer(thread), let wakes = shard.ring.appendOwner(record, head: head, route: route) {
            if wakes { wake() }
        } else if shard.append(record) {
            wake()
        }
    }

    /// Queues the record of a request with the same head (`head`, its serial), route (`route`,
    /// its identity) and key (`keyHash`) as the record last queued with `append(_:head:route:)`
    /// into this thread's ring, taking its method, host, url, route, key and client from that
    /// record: no string is retained or released on the caller's thread for it, and no lock is
    /// taken. The record has the fields given here and no others (not collapsed, no origin
    /// time, not a background refresh); `nanoseconds` is its time to answer. Returns false,
    /// having queued nothing, when that record is not at hand (another serial took its slot, it
    /// went to the shard rather than the ring, or this thread is not the ring's producer), the
    /// tier is not one a hit has, or the ring is full. The caller then appends the record whole.
    @inline(__always)
    public func appendRepeat(
        head: UInt64, route: ObjectIdentifier, timestamp: UnixMillis, status: Int, bytes: Int, cache: AccessLogRecord.CacheOutcome,
        tier: String, ttl: Int?, keyHash: UInt64, nanoseconds: Int64
    ) -> Bool {
        let thread = ThreadSlot.current
        let appended = unretainedShards[thread % Self.shardCount]._withUnsafeGuaranteedRef { shard -> Bool? in
            guard shard.ring.isProducer(thread) else { return nil }
            return shard.ring.appendRepeat(
                head: head, route: route, timestamp: timestamp, status: status, bytes: bytes, cache: cache, tier: tier, ttl: ttl,
                keyHash: keyHash, nanoseconds: nanoseconds)
        }
        guard let wakes = appended else { return false }
        if wakes { wake() }
        return true
    }

    private func wake() {
        // Set before taking the condition's lock, and read by the loop under it: never missed.
        state.withLock { $0.wakeRequested = true }
        signal.lock()
        signal.signal()
        signal.unlock()
    }

    /// Hands every batch, once written, to `tap` (on the writer thread).
    public func setTap(_ tap: (@Sendable ([AccessLogRecord]) -> Void)?) {
        self.tap.withLock { $0 = tap }
    }

    /// Records written, dropped (a shard was full) and lost to failed writes (a full disk) so far.
    public var counts: (written: Int, dropped: Int, failed: Int) {
        let pendingDrops = shards.reduce(0) { $0 + $1.droppedCount }
        return state.withLock { ($0.written, $0.dropped + pendingDrops, $0.failed) }
    }

    /// Writes everything queued so far and returns when it is on its way to the file.
    public func flush() {
        flushing.withLock { _ in flushQueued() }
    }

    /// Held for a whole flush: two flushes (the writer thread's and a caller's) never interleave
    /// their writes, and `reopen` swaps the file between two of them.
    private let flushing = Mutex(())

    private func flushQueued() {
        var sources: [Source] = []
        var dropped = 0
        for shard in shards {
            let hits = shard.ring.pending()
            let (records, positions, shardDropped) = shard.take()
            dropped += shardDropped
            if !hits.isEmpty || !records.isEmpty {
                sources.append(Source(shard: shard, hits: hits, records: records, positions: positions))
            }
        }
        if dropped > 0 { state.withLock { $0.dropped += dropped } }
        guard !sources.isEmpty else { return }
        let tapped = tap.withLock { $0 } != nil
        if !tapped, sources.allSatisfy({ $0.shard.ring.isOrdered($0.hits) }) {
            // For the file alone, with each loop's hits in order: formatted from the rings, the
            // shards' records merged among them.
            writeMerged(sources)
        } else {
            var records: [AccessLogRecord] = []
            for index in sources.indices {
                records += sources[index].merged()
            }
            // Each shard is in the order its requests ended; the file is in the order they started
            // (a stable sort keeps one loop's equal timestamps as they were).
            if records.count > 1 { records = Self.ordered(records) }
            write(records)
        }
        for index in sources.indices {
            // Moved out, so the shard gets the only reference and can keep the memory.
            var batch: [AccessLogRecord] = []
            var positions: [Int] = []
            swap(&batch, &sources[index].records)
            swap(&positions, &sources[index].positions)
            sources[index].shard.recycle(&batch, positions: &positions)
        }
    }

    private static func ordered(_ records: [AccessLogRecord]) -> [AccessLogRecord] {
        var sorted = true
        for index in records.indices.dropFirst() where records[index - 1].timestamp > records[index].timestamp {
            sorted = false
            break
        }
        guard !sorted else { return records }
        return records.enumerated().sorted { a, b in
            a.element.timestamp != b.element.timestamp ? a.element.timestamp < b.element.timestamp : a.offset < b.offset
        }.map(\.element)
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
                wake()
            }
        }
    }

    private let handleBox = Mutex<FileHandle?>(nil)

    /// Whether lines are written to a file (or only counted, for a tap).
    var hasFile: Bool { path != nil }

    /// Counts `lines` written that went to no file.
    func countWritten(_ lines: Int) {
        state.withLock { $0.written += lines }
    }

    private func write(_ records: [AccessLogRecord]) {
        guard !records.isEmpty else { return }
        defer {
            if let tap = tap.withLock({ $0 }) { tap(records) }
        }
        guard hasFile else {
            countWritten(records.count)
            return
        }
        writeRecords(records)
    }

    /// Writes `lines` formatted lines to the file and counts them written or, when the write
    /// fails, lost. After a failure the first write that succeeds starts with a line feed, which
    /// ends whatever part of a line the failed write left, so the lines after it read whole.
    func emit(_ bytes: UnsafeRawBufferPointer, lines: Int) {
        let failure = handleBox.withLock { handle -> (any Error)? in
            guard let handle else { return nil }
            do {
                if case .failing = state.withLock({ $0.health }) {
                    try withUnsafeBytes(of: UInt8(ascii: "\n")) { try DescriptorWrite.all($0, to: handle.fileDescriptor) }
                }
                try DescriptorWrite.all(bytes, to: handle.fileDescriptor)
                return nil
            } catch {
                return error
            }
        }
        let change = state.withLock { state -> (started: Bool, endedLosing: Int?) in
            switch (state.health, failure) {
            case (.healthy, nil):
                state.written += lines
                return (false, nil)
            case (.healthy, _?):
                state.failed += lines
                state.health = .failing(lostLines: lines)
                return (true, nil)
            case (.failing(let lost), _?):
                state.failed += lines
                state.health = .failing(lostLines: lost + lines)
                return (false, nil)
            case (.failing(let lost), nil):
                state.written += lines
                state.health = .healthy
                return (false, lost)
            }
        }
        if change.started, let failure {
            logger.warning(
                "access log writes are failing; lines are lost until a write succeeds",
                metadata: ["path": "\(path ?? "")", "error": "\(failure)"])
        }
        if let lost = change.endedLosing {
            logger.notice("access log writes succeed again", metadata: ["path": "\(path ?? "")", "lost_lines": "\(lost)"])
        }
    }

    /// Records a shard takes before it wakes the writer, at most (fewer when its capacity is
    /// small): about 100 KiB of records, so that the array a loop fills and the one it fills next
    /// (the same two, handed back and forth) stay in the core's cache. Waking every 50 ms
    /// instead, a loop at 80,000 requests a second wrote 4,000 records, 800 KiB, into memory no
    /// cache held, and each record's store missed (about 100 ns a request).
    static let recordsPerWake = 512

    /// Hits a ring holds at most (fewer when a shard's share of `maxPending` is smaller): 256
    /// KiB of entries, which stay in the core's cache as the loop goes round them. A ring that
    /// fills sends its loop's records to the shard until the writer has emptied it.
    static let hitsPerRing = 4096

    /// Bytes formatted before they are written (about 250 lines of a typical request).
    static let bytesPerWrite = 64 * 1024

    private func runLoop() {
        // Its name and its scheduling, set from inside: a name given before `start()` does not
        // reach the kernel's on Linux.
        WriterThread.prepareCurrent()
        let interval = Double(flushInterval.milliseconds) / 1000
        while true {
            signal.lock()
            // `stopping` is checked under the condition's lock, so a shutdown's signal is never missed.
            if !state.withLock({ $0.stopping || $0.wakeRequested }) {
                _ = signal.wait(until: Date(timeIntervalSinceNow: interval))
            }
            state.withLock { $0.wakeRequested = false }
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
