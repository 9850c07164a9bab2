import CompressNIO
public import Logging
public import NIOCore
import NIOPosix
public import PacaCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// L2: one file per entry on local disk, in the format of `EntryCodec`, under a byte budget with
/// least-recently-used eviction (DESIGN.md §3, "L2 on disk").
///
/// Layout: `<directory>/<h>/<hh>/<32 hex digits>` as nginx `levels=1:2` lays out its cache, the
/// file name being a 128-bit hash of the full key (the key itself is in the file and compared
/// on every read). Writes go to `<directory>/tmp` and are renamed into place without fsync: a
/// crash may lose entries, never expose half of one. A file that fails its CRC-32C (or is
/// truncated) is removed, counted in `corrupt` and never returned.
///
/// The index (key, allocated bytes, expiry, recency per file) lives in memory. At start-up it is
/// rebuilt by a scan of the directory that runs on the cache's thread pool while the cache
/// already serves: until the scan is done, a lookup that misses the index tries the key's file
/// directly. All disk I/O, compression and inflation run on that pool, never on the caller's
/// event loop or task executor.
public final class DiskCache: CacheTier {
    /// `l2`.
    public let name = "l2"
    /// The cache directory.
    public let directory: String
    /// The budget in bytes, counted as `max(st_size, st_blocks × 512)` per file, as nginx does.
    public let maxBytes: Int
    /// The largest encoded entry stored; larger entries are not written.
    public let maxEntryBytes: Int
    /// Bodies larger than this are stored gzip-compressed when that saves space.
    public let compressionThreshold: Int
    /// How often `run()` removes expired entries.
    public let sweepInterval: Duration
    /// Seals entries marked `encryptAtRest` and opens sealed files; without one such entries are
    /// not written and sealed files are misses.
    public let sealer: (any EntrySealer)?

    let clock: any WallClock
    private let sweepClock: any Clock<Duration>
    let logger: Logger
    let pool: NIOThreadPool
    let state = Mutex(State())
    let temporaryCounter = Atomic<Int>(0)

    /// Everything mutable, guarded by `state`.
    struct State {
        var index = DiskIndex()
        /// The start-up scan has visited every file (or stopped for shutdown).
        var scanFinished = false
        var scanWaiters: [CheckedContinuation<Void, Never>] = []
        /// Files removed while the scan runs, so a scan that read one just before it went does
        /// not bring it back into the index.
        var removedDuringScan: Set<FileID> = []
        var stopping = false
        var hits = 0
        var misses = 0
        var evictions = 0
        var corrupt = 0
        var errors = 0
        var loggedWriteError = false
        var loggedReadError = false
        var latency = LatencyHistogram()
    }

    /// Opens (creating if needed) the cache in `directory`, empties `<directory>/tmp`, and starts
    /// the background scan that rebuilds the index.
    /// - Parameters:
    ///   - maxBytes: the disk budget (default 1 GiB).
    ///   - maxEntryBytes: the largest encoded entry written (default: an eighth of `maxBytes`).
    ///   - compressionThreshold: bodies above this many bytes are gzipped at rest (default 8 KiB).
    ///   - sweepInterval: the period of `run()`'s expiry sweep (default 60 s).
    ///   - clock: wall time, for expiry at start-up and when writing (default: the system clock).
    ///   - sweepClock: drives `run()` (default: `ContinuousClock`).
    ///   - threads: threads of the cache's own I/O pool (default 4).
    ///   - sealer: the key for entries marked `encryptAtRest` (default none: they are not stored).
    /// - Throws: `DiskIOError` when the directories cannot be created.
    public init(
        directory: String,
        maxBytes: Int = 1 << 30,
        maxEntryBytes: Int? = nil,
        compressionThreshold: Int = 8 << 10,
        sweepInterval: Duration = .seconds(60),
        clock: any WallClock = SystemWallClock(),
        sweepClock: any Clock<Duration> = ContinuousClock(),
        threads: Int = 4,
        sealer: (any EntrySealer)? = nil,
        logger: Logger = Logger(label: "paca.l2")
    ) throws {
        var directory = directory
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        self.directory = directory
        self.maxBytes = max(0, maxBytes)
        self.maxEntryBytes = min(self.maxBytes, maxEntryBytes ?? self.maxBytes / 8)
        self.compressionThreshold = compressionThreshold
        self.sweepInterval = sweepInterval
        self.sealer = sealer
        self.clock = clock
        self.sweepClock = sweepClock
        self.logger = logger

        try DiskFiles.makeDirectories(directory)
        try DiskFiles.makeDirectory(directory + "/tmp")
        for leftover in DiskFiles.names(in: directory + "/tmp") {
            DiskFiles.remove(directory + "/tmp/" + leftover)
        }
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
        // The scan is a job on the cache's own pool (not a Task): `shutdown()` stops and awaits it.
        pool.submit { [self] work in
            if case .active = work { self.scanDirectory() } else { self.finishScan() }
        }
    }

    // MARK: - CacheTier

    /// The entry under `key` with an identity body (a gzip body is inflated on the I/O pool), if
    /// its file exists, verifies, belongs to `key` and lives past `now`.
    public func get(_ key: String, now: UnixMillis) async -> CacheEntry? {
        await lookup(key, now: now, inflate: true)?.entry
    }

    /// The entry under `key` with its body as stored: gzip when `bodyEncoding == .gzip`, for
    /// clients that accept gzip (the caller adds `Content-Encoding: gzip`; the stored headers
    /// describe the identity body).
    public func getStored(_ key: String, now: UnixMillis) async -> DecodedEntry? {
        await lookup(key, now: now, inflate: false)
    }

    /// Writes `entry` (gzipping a large body when that saves space) through a temporary file
    /// and a rename, then evicts least-recently-used entries until the budget holds. An entry
    /// already expired, larger than `maxEntryBytes`, or that fails to write is dropped; a failed
    /// write counts in `errors` and is logged once.
    public func set(_ entry: CacheEntry) async {
        guard entry.timing.storageExpiry > clock.now() else { return }
        _ = try? await pool.runIfActive { self.write(entry) }
    }

    /// Removes the entry under `key`, whether or not the scan has reached it.
    public func remove(_ key: String) async {
        let id = FileID(key: key)
        state.withLock { state in
            state.index.remove(id)
            if !state.scanFinished { state.removedDuringScan.insert(id) }
        }
        _ = try? await pool.runIfActive { DiskFiles.remove(self.path(for: id)) }
    }

    /// Removes every entry whose full key satisfies `predicate`, after the scan has indexed every
    /// file (so entries from before a restart are covered). Returns how many.
    public func removeAll(where predicate: @escaping @Sendable (String) -> Bool) async -> Int {
        await removeAll(where: predicate, waitingForFiles: true)
    }

    /// `removeAll(where:)`; without `waitingForFiles` it returns once the index has forgotten the
    /// entries (so no read finds them) and the files are unlinked on the I/O pool afterwards — a
    /// purge of 100,000 files answers at once instead of after 100,000 unlinks.
    public func removeAll(where predicate: @escaping @Sendable (String) -> Bool, waitingForFiles: Bool) async -> Int {
        await waitForIndex()
        // The predicate (a purge's pattern or regex) runs over a snapshot, outside the lock that
        // every lookup takes, since lookups run on the event loops.
        let matched = state.withLock { $0.index.keys }.compactMap { predicate($0.key) ? $0.id : nil }
        let ids = state.withLock { state in
            matched.filter { state.index.remove($0) != nil }
        }
        if waitingForFiles {
            await unlinkFiles(ids)
        } else if !ids.isEmpty {
            _ = pool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) {
                for id in ids { DiskFiles.remove(self.path(for: id)) }
            }
        }
        return ids.count
    }

    /// How many entries have a full key `predicate` picks (after the start-up scan).
    public func count(where predicate: @escaping @Sendable (String) -> Bool) async -> Int {
        await waitForIndex()
        return state.withLock { $0.index.keys }.count { predicate($0.key) }
    }

    /// Removes every entry file (temporary files of writes in flight excepted).
    public func removeAll() async {
        await waitForIndex()
        state.withLock { $0.index.removeAll() }
        _ = try? await pool.runIfActive {
            for first in DiskFiles.names(in: self.directory) where first.count == 1 {
                for second in DiskFiles.names(in: "\(self.directory)/\(first)") {
                    let level = "\(self.directory)/\(first)/\(second)"
                    for file in DiskFiles.names(in: level) where FileID(name: file) != nil {
                        DiskFiles.remove("\(level)/\(file)")
                    }
                }
            }
        }
    }

    /// Removes entries whose storage lifetime ended at or before `now`; returns how many. Waits
    /// for the start-up scan (which itself drops the expired files it meets).
    public func removeExpired(now: UnixMillis) async -> Int {
        await waitForIndex()
        let ids = state.withLock { state in
            let ids = state.index.expired(at: now)
            for id in ids { state.index.remove(id) }
            return ids
        }
        await unlinkFiles(ids)
        return ids.count
    }

    /// Hits, misses, entries and bytes indexed, evictions, corrupt files, I/O errors, and the
    /// p50/p99 of `get` latency (including the hop to the I/O pool) in microseconds.
    public func statistics() async -> TierStatistics {
        state.withLock { state in
            TierStatistics(
                name: name, hits: state.hits, misses: state.misses, entries: state.index.count,
                bytes: state.index.totalBytes, evictions: state.evictions, corrupt: state.corrupt, errors: state.errors,
                p50Micros: state.latency.percentile(0.5), p90Micros: state.latency.percentile(0.9),
                p99Micros: state.latency.percentile(0.99))
        }
    }

    /// Stops the scan, lets running I/O finish and stops the pool. Later calls are misses and
    /// dropped writes.
    public func shutdown() async {
        state.withLock { $0.stopping = true }
        await waitForIndex()
        try? await pool.shutdownGracefully()
    }

    /// The path of `key`'s file (which may not exist): for operators and tests.
    public func filePath(for key: String) -> String {
        path(for: FileID(key: key))
    }

    // MARK: - Index and sweep

    /// Returns once the start-up scan has indexed every file that was on disk.
    public func waitForIndex() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                if state.scanFinished { return true }
                state.scanWaiters.append(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// Removes expired entries every `sweepInterval` of `sweepClock` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await Self.sleep(on: sweepClock, for: sweepInterval)
            } catch {
                return
            }
            _ = await removeExpired(now: clock.now())
        }
    }

    private static func sleep<C: Clock<Duration>>(on clock: C, for duration: Duration) async throws {
        try await clock.sleep(for: duration)
    }

    // MARK: - Reads

    enum LookupPlan {
        case miss
        case expired(FileID)
        case read(FileID, indexed: Bool)
    }

    private func lookup(_ key: String, now: UnixMillis, inflate: Bool) async -> DecodedEntry? {
        let started = ContinuousClock.now
        var result: DecodedEntry?
        switch plan(key, now: now) {
        case .miss:
            break
        case .expired(let id):
            await unlinkFiles([id])
        case .read(let id, let indexed):
            result = (try? await pool.runIfActive { self.readEntry(id, key: key, now: now, indexed: indexed, inflate: inflate) }) ?? nil
        }
        record(result != nil, since: started)
        return result
    }

    /// `get` for callers on an event loop: the lookup runs on the cache's pool and the future
    /// completes on `eventLoop`, with an identity body. A miss that the index answers completes
    /// at once without leaving the loop.
    public func get(_ key: String, now: UnixMillis, on eventLoop: any EventLoop) -> EventLoopFuture<CacheEntry?> {
        lookup(key, now: now, on: eventLoop) { id, indexed in
            self.readEntry(id, key: key, now: now, indexed: indexed, inflate: true)?.entry
        }
    }

    /// The shape of every lookup from an event loop: a miss the index answers, or an expired
    /// entry (its file removed on the pool), completes at once without leaving the loop;
    /// otherwise `read` runs on the cache's pool. Hits, misses and latency are recorded.
    func lookup<Found: Sendable>(
        _ key: String, now: UnixMillis, on eventLoop: any EventLoop, read: @escaping @Sendable (FileID, _ indexed: Bool) -> Found?
    ) -> EventLoopFuture<Found?> {
        let started = ContinuousClock.now
        switch plan(key, now: now) {
        case .miss:
            record(false, since: started)
            return eventLoop.makeSucceededFuture(nil)
        case .expired(let id):
            record(false, since: started)
            _ = pool.runIfActive(eventLoop: eventLoop) { DiskFiles.remove(self.path(for: id)) }
            return eventLoop.makeSucceededFuture(nil)
        case .read(let id, let indexed):
            return pool.runIfActive(eventLoop: eventLoop) { read(id, indexed) }
                .recover { _ in nil }
                .map { found in
                    self.record(found != nil, since: started)
                    return found
                }
        }
    }

    /// Decides under the lock whether a lookup needs the disk.
    func plan(_ key: String, now: UnixMillis) -> LookupPlan {
        let id = FileID(key: key)
        return state.withLock { state -> LookupPlan in
            if let record = state.index.peek(id) {
                // Another key holds this file name (a hash collision): a miss, no I/O.
                guard record.key == key else { return .miss }
                if record.expiry <= now {
                    state.index.remove(id)
                    if !state.scanFinished { state.removedDuringScan.insert(id) }
                    return .expired(id)
                }
                state.index.touch(id)
                return .read(id, indexed: true)
            }
            // Until the scan is done, a file may exist that the index does not know yet.
            return state.scanFinished ? .miss : .read(id, indexed: false)
        }
    }

    func record(_ hit: Bool, since started: ContinuousClock.Instant) {
        let micros = Self.micros(ContinuousClock.now - started)
        state.withLock { state in
            if hit { state.hits += 1 } else { state.misses += 1 }
            state.latency.record(micros: micros)
        }
    }

    /// Runs on the pool: reads, verifies and (optionally) inflates the file of `id`.
    func readEntry(_ id: FileID, key: String, now: UnixMillis, indexed: Bool, inflate: Bool) -> DecodedEntry? {
        let path = path(for: id)
        let buffer: ByteBuffer
        let bytes: Int
        do {
            (buffer, bytes) = try DiskFiles.read(path)
        } catch {
            if error.isNotFound {
                if indexed { state.withLock { _ = $0.index.remove(id) } }
            } else {
                countError(error, write: false)
            }
            return nil
        }
        var decoded: DecodedEntry
        do {
            decoded = try EntryCodec.decode(buffer, expectedKey: key, sealer: sealer)
        } catch .keyMismatch {
            // A valid entry of another key under this name: a collision, not damage.
            if indexed { state.withLock { _ = $0.index.remove(id) } }
            return nil
        } catch .keyUnavailable {
            // Sealed under a key this process does not hold (rotated): a miss; the next fill of
            // the key replaces the file, and eviction or expiry remove it otherwise.
            return nil
        } catch {
            discardCorrupt(id, path: path, reason: "\(error)")
            return nil
        }
        if decoded.entry.timing.storageExpiry <= now {
            DiskFiles.remove(path)
            state.withLock { _ = $0.index.remove(id) }
            return nil
        }
        if !indexed {
            let expiry = decoded.entry.timing.storageExpiry
            state.withLock { state in
                if !state.index.contains(id) { state.index.upsert(id, key: key, bytes: bytes, expiry: expiry) }
            }
        }
        if inflate, decoded.bodyEncoding == .gzip {
            guard let body = Self.gunzip(decoded.entry.body) else {
                discardCorrupt(id, path: path, reason: "gzip body does not inflate")
                return nil
            }
            decoded = DecodedEntry(entry: decoded.entry.replacingBody(body), bodyEncoding: .identity)
        }
        return decoded
    }

    func discardCorrupt(_ id: FileID, path: String, reason: String) {
        DiskFiles.remove(path)
        state.withLock { state in
            state.index.remove(id)
            state.corrupt += 1
        }
        logger.warning("removed a damaged L2 file", metadata: ["path": "\(path)", "reason": "\(reason)"])
    }

    // MARK: - Writes

    /// Runs on the pool: compresses, encodes (sealing an `encryptAtRest` entry, which is dropped
    /// without a sealer), writes to `tmp`, renames into place, indexes and evicts.
    private func write(_ entry: CacheEntry) {
        if entry.encryptAtRest, sealer == nil { return }
        let id = FileID(key: entry.key)
        var stored = entry
        var encoding = BodyEncoding.identity
        if entry.body.readableBytes > compressionThreshold, let compressed = Self.gzip(entry.body),
            compressed.readableBytes < entry.body.readableBytes
        {
            stored = entry.replacingBody(compressed)
            encoding = .gzip
        }
        let encoded: ByteBuffer
        if entry.encryptAtRest, let sealer {
            guard let sealed = EntryCodec.encodeSealed(stored, bodyEncoding: encoding, sealer: sealer) else { return }
            encoded = sealed
        } else {
            encoded = EntryCodec.encode(stored, bodyEncoding: encoding)
        }
        guard encoded.readableBytes <= maxEntryBytes else { return }

        let temporary = "\(directory)/tmp/\(id.name).\(temporaryCounter.add(1, ordering: .relaxed).newValue)"
        let bytes: Int
        do {
            bytes = try DiskFiles.writeNew(temporary, encoded)
        } catch {
            DiskFiles.remove(temporary)
            countError(error, write: true)
            return
        }
        _ = install(temporary: temporary, key: entry.key, bytes: bytes, expiry: entry.timing.storageExpiry)
    }

    /// Drops least-recently-used records until the budget holds; the caller unlinks the files.
    func evictOverBudget(_ state: inout State, keeping keep: FileID?) -> [FileID] {
        var victims: [FileID] = []
        while state.index.totalBytes > maxBytes, let victim = state.index.removeLeastRecent(keeping: keep) {
            victims.append(victim)
            if !state.scanFinished { state.removedDuringScan.insert(victim) }
        }
        state.evictions += victims.count
        return victims
    }

    func countError(_ error: DiskIOError, write: Bool) {
        let first = state.withLock { state in
            state.errors += 1
            if write {
                defer { state.loggedWriteError = true }
                return !state.loggedWriteError
            }
            defer { state.loggedReadError = true }
            return !state.loggedReadError
        }
        // Once per kind: a full disk fails every write, and the log must not drown in it.
        if first {
            logger.error(
                write ? "L2 write failed; writes are dropped while this lasts" : "L2 read failed; reads are misses while this lasts",
                metadata: ["error": "\(error)", "directory": "\(directory)"])
        }
    }

    private func unlinkFiles(_ ids: [FileID]) async {
        guard !ids.isEmpty else { return }
        state.withLock { state in
            if !state.scanFinished { state.removedDuringScan.formUnion(ids) }
        }
        _ = try? await pool.runIfActive {
            for id in ids { DiskFiles.remove(self.path(for: id)) }
        }
    }

    // MARK: - Start-up scan

    /// Runs on the pool: indexes every entry file, as the coldest entries, reading only headers.
    private func scanDirectory() {
        let now = clock.now()
        scan: for first in DiskFiles.names(in: directory) where first.count == 1 {
            for second in DiskFiles.names(in: "\(directory)/\(first)") where second.count == 2 {
                let level = "\(directory)/\(first)/\(second)"
                for file in DiskFiles.names(in: level) {
                    if state.withLock({ $0.stopping }) { break scan }
                    guard let id = FileID(name: file), id.levelDirectories == (first, second) else { continue }
                    indexFile(id, path: "\(level)/\(file)", now: now)
                }
            }
        }
        finishScan()
    }

    private func indexFile(_ id: FileID, path: String, now: UnixMillis) {
        if state.withLock({ $0.index.contains(id) || $0.removedDuringScan.contains(id) }) { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }  // removed since the directory was listed
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let size = Int(info.st_size)
        let summary: EntrySummary
        do {
            var prefix = ByteBuffer()
            try DiskFiles.readFully(fd, into: &prefix, count: EntryCodec.prefixLength, offset: 0)
            let needed = try EntryCodec.summaryLength(prefix: prefix)
            guard needed <= size else { throw EntryCodecError.truncated }
            try DiskFiles.readFully(fd, into: &prefix, count: needed - prefix.readableBytes, offset: prefix.readableBytes)
            summary = try EntryCodec.summarize(prefix)
            guard summary.encodedLength == size else { throw EntryCodecError.truncated }
            // A file whose name is not its key's hash can never be found: treat it as damage.
            guard FileID(key: summary.key) == id else { throw EntryCodecError.keyMismatch }
        } catch let error as DiskIOError {
            countError(error, write: false)
            return
        } catch {
            discardCorrupt(id, path: path, reason: "\(error)")
            return
        }
        if summary.storageExpiry <= now {
            DiskFiles.remove(path)
            return
        }
        let bytes = DiskFiles.allocatedBytes(info)
        state.withLock { state in
            if !state.index.contains(id), !state.removedDuringScan.contains(id) {
                state.index.upsert(id, key: summary.key, bytes: bytes, expiry: summary.storageExpiry, coldest: true)
            }
        }
    }

    /// Marks the scan done, enforces the budget over everything now indexed, wakes the waiters.
    private func finishScan() {
        let (waiters, victims) = state.withLock { state in
            state.scanFinished = true
            state.removedDuringScan = []
            let victims = evictOverBudget(&state, keeping: nil)
            defer { state.scanWaiters = [] }
            return (state.scanWaiters, victims)
        }
        for victim in victims { DiskFiles.remove(path(for: victim)) }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Helpers

    func path(for id: FileID) -> String {
        let (first, second) = id.levelDirectories
        return "\(directory)/\(first)/\(second)/\(id.name)"
    }

    private static func micros(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000)
    }

    static func gzip(_ body: ByteBuffer) -> ByteBuffer? {
        var input = body
        return try? input.compress(with: .gzip())
    }

    /// Inflates a gzip member, sized by its `ISIZE` trailer when that is plausible.
    static func gunzip(_ body: ByteBuffer) -> ByteBuffer? {
        guard body.readableBytes >= 18,
            let size = body.getInteger(at: body.writerIndex - 4, endianness: .little, as: UInt32.self)
        else { return nil }
        var input = body
        var output = ByteBufferAllocator().buffer(capacity: max(1, Int(size)))
        if (try? input.decompress(to: &output, with: .gzip())) != nil, output.readableBytes == Int(size) {
            return output
        }
        // ISIZE is the length modulo 2^32: fall back to growing the buffer.
        input = body
        return try? input.decompress(with: .gzip())
    }
}

extension CacheEntry {
    /// A copy with `body` replaced; everything else, timing included, unchanged.
    func replacingBody(_ body: ByteBuffer) -> CacheEntry {
        CacheEntry(
            key: key, status: status, headers: headers, body: body, timing: timing, etag: etag, lastModified: lastModified,
            encryptAtRest: encryptAtRest)
    }
}
