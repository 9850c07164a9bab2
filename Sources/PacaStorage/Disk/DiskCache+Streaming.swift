public import NIOCore
import NIOPosix
public import PacaCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A large entry written to L2 as its body arrives (DESIGN.md §3, "Bodies stream"): the head goes
/// to a file in `<l2>/tmp`, each part is appended in order on the cache's I/O pool with the
/// CRC-32C running over it, and `commit` writes the checksum and renames the file into place.
/// Nothing of the body is held in memory beyond the parts in flight.
public final class DiskEntryWriter: Sendable {
    private struct Progress {
        var fd: Int32 = -1
        var crc: UInt32 = 0
        var written = 0
        var failed = false
        var finished = false
    }

    private let cache: DiskCache
    private let key: String
    private let head: ByteBuffer
    private let expiry: UnixMillis
    /// The body bytes the head announces; `commit` refuses any other count.
    public let bodyLength: Int
    private let temporary: String
    // The pool may run jobs on any of its threads, but the writer's jobs are chained one after
    // another (`tail`), so `progress` is never touched by two at once; the mutex makes the hand-over
    // between threads explicit.
    private let progress = Mutex(Progress())
    /// The last job queued; only touched on the event loop that feeds the writer.
    private let tail: NIOLoopBoundBox<EventLoopFuture<Void>>

    init(cache: DiskCache, key: String, head: ByteBuffer, bodyLength: Int, expiry: UnixMillis, temporary: String, eventLoop: any EventLoop)
    {
        self.cache = cache
        self.key = key
        self.head = head
        self.bodyLength = bodyLength
        self.expiry = expiry
        self.temporary = temporary
        self.tail = NIOLoopBoundBox(eventLoop.makeSucceededVoidFuture(), eventLoop: eventLoop)
    }

    /// Whether a write failed (the entry will not be stored).
    public var failed: Bool { progress.withLock { $0.failed } }

    /// Appends `part`; the future completes when it is written (or the write failed, which
    /// `failed` then says). Call on the writer's event loop, in body order.
    public func append(_ part: ByteBuffer) -> EventLoopFuture<Void> {
        enqueue { self.write(part) }
    }

    /// Closes the file with its checksum and renames it into place; `true` when the entry is now
    /// in L2. Call on the writer's event loop after the last `append`.
    public func commit() -> EventLoopFuture<Bool> {
        let eventLoop = tail.value.eventLoop
        let promise = eventLoop.makePromise(of: Bool.self)
        let done = Mutex(false)
        tail.value = enqueue {
            let stored = self.finishFile()
            done.withLock { $0 = stored }
        }
        tail.value.whenComplete { _ in promise.succeed(done.withLock { $0 }) }
        return promise.futureResult
    }

    /// Drops the temporary file. Call on the writer's event loop.
    public func abort() {
        tail.value = enqueue { self.discard() }
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> EventLoopFuture<Void> {
        let eventLoop = tail.value.eventLoop
        let pool = cache.pool
        let next = tail.value.flatMap {
            pool.runIfActive(eventLoop: eventLoop, job).recover { _ in }
        }
        tail.value = next
        return next
    }

    // MARK: - On the pool

    private func write(_ part: ByteBuffer) {
        progress.withLock { progress in
            guard !progress.failed, !progress.finished else { return }
            if progress.fd < 0 {
                let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    fail(&progress, DiskIOError(call: "open", code: errno))
                    return
                }
                progress.fd = fd
                guard writeAll(fd, head, &progress) else { return }
                progress.crc = head.withUnsafeReadableBytes { CRC32C.checksum($0) }
            }
            guard progress.written + part.readableBytes <= bodyLength else {
                progress.failed = true  // the origin sent more than it announced
                return
            }
            guard writeAll(progress.fd, part, &progress) else { return }
            progress.crc = part.withUnsafeReadableBytes { CRC32C.checksum($0, seed: progress.crc) }
            progress.written += part.readableBytes
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: ByteBuffer, _ progress: inout Progress) -> Bool {
        var error: Int32 = 0
        bytes.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let result = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                if result >= 0 {
                    done += result
                } else if errno != EINTR {
                    error = errno
                    return
                }
            }
        }
        if error != 0 {
            fail(&progress, DiskIOError(call: "write", code: error))
            return false
        }
        return true
    }

    private func fail(_ progress: inout Progress, _ error: DiskIOError) {
        progress.failed = true
        cache.countError(error, write: true)
    }

    private func finishFile() -> Bool {
        let ready = progress.withLock { progress -> (fd: Int32, crc: UInt32)? in
            defer { progress.finished = true }
            guard !progress.failed, progress.fd >= 0, progress.written == bodyLength else { return nil }
            var trailer = ByteBuffer()
            trailer.writeInteger(progress.crc)
            guard writeAll(progress.fd, trailer, &progress) else { return nil }
            return (progress.fd, progress.crc)
        }
        let fd = progress.withLock { progress -> Int32 in
            defer { progress.fd = -1 }
            return progress.fd
        }
        guard let ready else {
            if fd >= 0 { close(fd) }
            DiskFiles.remove(temporary)
            return false
        }
        var info = stat()
        let statOK = fstat(ready.fd, &info) == 0
        close(ready.fd)
        guard statOK, expiry > cache.clock.now() else {
            DiskFiles.remove(temporary)
            return false
        }
        return cache.install(temporary: temporary, key: key, bytes: DiskFiles.allocatedBytes(info), expiry: expiry)
    }

    private func discard() {
        let fd = progress.withLock { progress -> Int32 in
            progress.finished = true
            defer { progress.fd = -1 }
            return progress.fd
        }
        if fd >= 0 { close(fd) }
        DiskFiles.remove(temporary)
    }
}

/// A verified L2 entry whose body is served from its file in parts, never read whole: the
/// descriptor stays open, so a later rename over the path does not change what is sent.
public final class DiskFileBody: StreamingBody, @unchecked Sendable {
    // Safe: `fd` and `offset` are read and advanced only by the chain of pool jobs started on
    // `eventLoop` (one read in flight at a time); `closed` is guarded by its mutex; `sent` is
    // set by `restrict(to:)` on `eventLoop` before `start`, which is called there too, and only
    // read after.
    /// The entry's head (its body empty).
    public let entry: CacheEntry
    /// Bytes of the body.
    public let length: Int
    /// The bytes of the body `start` sends: all of it unless `restrict(to:)` chose a range.
    public private(set) var sent: Range<Int>
    private let fd: Int32
    private let bodyOffset: Int
    private let pool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let closed = Mutex(false)
    private let cancelled = Atomic<Bool>(false)
    /// Bytes read per step.
    static let chunk = 256 << 10

    init(entry: CacheEntry, fd: Int32, bodyOffset: Int, length: Int, pool: NIOThreadPool, eventLoop: any EventLoop) {
        self.entry = entry
        self.fd = fd
        self.bodyOffset = bodyOffset
        self.length = length
        self.sent = 0..<length
        self.pool = pool
        self.eventLoop = eventLoop
    }

    /// Sends only `range` of the body (a single-range 206); call before `start`. The range is
    /// clamped to the body.
    public func restrict(to range: Range<Int>) {
        sent = range.clamped(to: 0..<length)
    }

    deinit {
        closeFile()
    }

    private func closeFile() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { close(fd) }
    }

    /// Reads the body part by part on the pool; the next read starts when the client took the
    /// last part, so at most one part is in memory.
    public func start(onPart: @escaping (ByteBuffer) -> EventLoopFuture<Void>, onEnd: @escaping (Result<Void, any Error>) -> Void) {
        let onPart = NIOLoopBound(onPart, eventLoop: eventLoop)
        let onEnd = NIOLoopBound(onEnd, eventLoop: eventLoop)
        step(from: sent.lowerBound, onPart: onPart, onEnd: onEnd)
    }

    private func step(
        from position: Int, onPart: NIOLoopBound<(ByteBuffer) -> EventLoopFuture<Void>>,
        onEnd: NIOLoopBound<(Result<Void, any Error>) -> Void>
    ) {
        guard position < sent.upperBound, !cancelled.load(ordering: .relaxed) else {
            closeFile()
            if !cancelled.load(ordering: .relaxed) { onEnd.value(.success(())) }
            return
        }
        let count = min(Self.chunk, sent.upperBound - position)
        let fd = self.fd
        let offset = bodyOffset + position
        pool.runIfActive(eventLoop: eventLoop) { () throws -> ByteBuffer in
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            let got = try DiskFiles.readFully(fd, into: &buffer, count: count, offset: offset)
            guard got == count else { throw DiskIOError(call: "pread (file shrank)", code: EIO) }
            return buffer
        }.whenComplete { result in
            switch result {
            case .success(let buffer):
                onPart.value(buffer).whenComplete { _ in
                    self.step(from: position + count, onPart: onPart, onEnd: onEnd)
                }
            case .failure(let error):
                self.closeFile()
                if !self.cancelled.load(ordering: .relaxed) { onEnd.value(.failure(error)) }
            }
        }
    }

    /// The client does not want the body: the file is closed.
    public func cancel() {
        cancelled.store(true, ordering: .relaxed)
        closeFile()
    }
}

/// What `DiskCache.getForServing` found.
public enum DiskServingHit: Sendable {
    /// A small entry, read whole (identity body).
    case entry(CacheEntry)
    /// A large entry, verified, to be sent from its file.
    case file(DiskFileBody)
}

extension DiskCache {
    /// Starts writing a large entry whose body (of `bodyLength` bytes) will follow: `entry`
    /// gives the key, fields and timing (its body is ignored). `nil` when the entry would be
    /// larger than `maxEntryBytes` or is already expired, and for an `encryptAtRest` entry: a
    /// sealed entry is sealed whole, so it is never streamed to disk (such an answer passes
    /// uncached when L1 cannot hold it).
    public func beginWrite(_ entry: CacheEntry, bodyLength: Int, on eventLoop: any EventLoop) -> DiskEntryWriter? {
        guard !entry.encryptAtRest else { return nil }
        let head = EntryCodec.encodeHead(entry, bodyLength: bodyLength)
        guard head.readableBytes + bodyLength + 4 <= maxEntryBytes, bodyLength <= Int(UInt32.max),
            entry.timing.storageExpiry > clock.now()
        else { return nil }
        let id = FileID(key: entry.key)
        let temporary = "\(directory)/tmp/\(id.name).\(temporaryCounter.add(1, ordering: .relaxed).newValue)"
        return DiskEntryWriter(
            cache: self, key: entry.key, head: head, bodyLength: bodyLength, expiry: entry.timing.storageExpiry, temporary: temporary,
            eventLoop: eventLoop)
    }

    /// Runs on the pool: moves a finished temporary file into place, indexes it and evicts.
    func install(temporary: String, key: String, bytes: Int, expiry: UnixMillis) -> Bool {
        let id = FileID(key: key)
        let final = path(for: id)
        do {
            do {
                try DiskFiles.moveIntoPlace(temporary, final)
            } catch  where error.isNotFound {
                let (first, second) = id.levelDirectories
                try DiskFiles.makeDirectory("\(directory)/\(first)")
                try DiskFiles.makeDirectory("\(directory)/\(first)/\(second)")
                try DiskFiles.moveIntoPlace(temporary, final)
            }
        } catch {
            DiskFiles.remove(temporary)
            countError(error, write: true)
            return false
        }
        let victims = state.withLock { state -> [FileID] in
            state.index.upsert(id, key: key, bytes: bytes, expiry: expiry)
            return evictOverBudget(&state, keeping: id)
        }
        for victim in victims { DiskFiles.remove(path(for: victim)) }
        return true
    }

    /// `get` for serving: an entry whose identity body is larger than `inlineLimit` is not read
    /// into memory; its checksum is verified by reading the file in parts, then its body is sent
    /// from the open file. Smaller (and gzip-stored or sealed) entries come back whole, as from
    /// `get`: a sealed file is never sent as it is (`EntryCodec.decodeHead` refuses it).
    public func getForServing(_ key: String, now: UnixMillis, inlineLimit: Int, on eventLoop: any EventLoop) -> EventLoopFuture<
        DiskServingHit?
    > {
        lookup(key, now: now, on: eventLoop) { id, indexed in
            if let file = self.openLarge(id, key: key, now: now, inlineLimit: inlineLimit, eventLoop: eventLoop) { return file }
            return self.readEntry(id, key: key, now: now, indexed: indexed, inflate: true).map { DiskServingHit.entry($0.entry) }
        }
    }

    /// Runs on the pool: opens `id`'s file, and when it holds a large identity body, verifies the
    /// whole file's checksum in parts and returns a body served from the open descriptor. `nil`
    /// for small entries (read whole instead) and for anything that does not verify.
    private func openLarge(_ id: FileID, key: String, now: UnixMillis, inlineLimit: Int, eventLoop: any EventLoop) -> DiskServingHit? {
        let path = path(for: id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var keep = false
        defer { if !keep { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        var head = ByteBuffer()
        guard (try? DiskFiles.readFully(fd, into: &head, count: min(size, EntryCodec.prefixLength), offset: 0)) != nil,
            let needed = try? EntryCodec.summaryLength(prefix: head), needed <= size,
            (try? DiskFiles.readFully(fd, into: &head, count: needed - head.readableBytes, offset: head.readableBytes)) != nil,
            let decoded = try? EntryCodec.decodeHead(head, expectedKey: key)
        else { return nil }
        guard decoded.entry.bodyEncoding == .identity, decoded.bodyLength > inlineLimit,
            decoded.bodyOffset + decoded.bodyLength + 4 == size, decoded.entry.entry.timing.storageExpiry > now
        else { return nil }
        // The checksum covers everything before it: verify it before the first byte is sent.
        var crc: UInt32 = 0
        var position = 0
        let step = 1 << 20
        var scratch = ByteBufferAllocator().buffer(capacity: step)
        while position < size - 4 {
            scratch.clear()
            let count = min(step, size - 4 - position)
            guard let got = try? DiskFiles.readFully(fd, into: &scratch, count: count, offset: position), got == count else { return nil }
            crc = scratch.withUnsafeReadableBytes { CRC32C.checksum($0, seed: crc) }
            position += count
        }
        scratch.clear()
        guard (try? DiskFiles.readFully(fd, into: &scratch, count: 4, offset: size - 4)) == 4,
            let stored = scratch.readInteger(as: UInt32.self), stored == crc
        else {
            discardCorrupt(id, path: path, reason: "checksum mismatch")
            return nil
        }
        keep = true
        return .file(
            DiskFileBody(
                entry: decoded.entry.entry, fd: fd, bodyOffset: decoded.bodyOffset, length: decoded.bodyLength, pool: pool,
                eventLoop: eventLoop))
    }
}

/// `write(2)`, named apart from the writer's own `write`.
private func posixWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(fd, pointer, count)
    #else
        Darwin.write(fd, pointer, count)
    #endif
}
