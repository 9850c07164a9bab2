import CHiredis
import NIOCore
import PacaCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One Redis connection shared by every caller at once: a pipeline.
///
/// A caller writes its request on the socket itself, under a write lock that keeps the wire
/// order equal to the order of `RedisRequestQueue.inflight` (a non-blocking write of a few bytes; what
/// the socket will not take goes to an outbox the I/O thread drains). The connection's own
/// thread sleeps in `poll` on the socket, so a reply wakes it directly — no hand-off to wake a
/// worker before the request can go out, as a job queue needs — and it parses every reply that
/// arrived with hiredis' reader and completes the callers in order. Concurrent requests are
/// therefore on the wire together instead of each waiting for a free connection.
///
/// The I/O thread connects (lazily, with hiredis' blocking connect, AUTH and SELECT, through
/// `RedisConnection`), then owns the socket's reading side. A request not answered within the
/// timeout drops the socket and fails every request on it; the next request reconnects.
/// While nothing is on the wire the thread wakes once per timeout period, so a request's
/// timeout is noticed between one and two timeout periods after it was sent.
final class RedisPipeline: Sendable {
    private let url: RedisURL
    private let timeout: Duration
    private let onConnect: @Sendable (RedisConnection) -> Void
    private let queue: Mutex<RedisRequestQueue>
    /// Held by whoever writes on the socket or closes it, so bytes go out in the order of
    /// `inflight`, and a socket is never closed (and its number reused) under a writer.
    private let writing = Mutex(())
    /// Read end and write end of the pipe that wakes the I/O thread (to connect, to write the
    /// outbox, to close). Callers on the fast path never touch it.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let exited = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(url: RedisURL, timeout: Duration, maxQueued: Int, onConnect: @escaping @Sendable (RedisConnection) -> Void) {
        self.url = url
        self.timeout = timeout
        self.onConnect = onConnect
        self.queue = Mutex(RedisRequestQueue(limit: maxQueued))
        var fds: [Int32] = [-1, -1]
        let status = pipe(&fds)
        precondition(status == 0, "pipe failed: \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        RedisConnectionPool.startThread { [self] in
            var thread = IOThread(pipeline: self)
            thread.run()
            let waiters = exited.withLock { state in
                state.done = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    deinit {
        closeDescriptor(wakeRead)
        closeDescriptor(wakeWrite)
    }

    /// Sends `commands` in one write and returns their replies in order.
    func run(_ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        let result: Result<[RedisReply], RedisError> = await withUnsafeContinuation { continuation in
            submit(commands) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Queues `commands`; `completion` runs once, on the I/O thread or (for an immediate
    /// failure) on the caller's.
    func submit(_ commands: [[ByteBuffer]], completion: @escaping RedisRequestQueue.Completion) {
        let request = RedisRequestQueue.Request(
            bytes: Self.encode(commands), expected: commands.count, deadline: .now + timeout, completion: completion)
        // The write lock orders the writes as the requests enter `inflight`, without holding the
        // queue's lock across `send`: a caller descheduled in `send` (it just woke Redis) would
        // otherwise make the I/O thread sleep on the lock before it can complete the reply.
        let action = writing.withLock { _ -> RedisRequestQueue.SubmitAction in
            let action = queue.withLock { $0.submit(request) }
            guard case .write(let fd) = action else { return action }
            var bytes = request.bytes
            switch Self.writeSome(fd, &bytes) {
            case .done:
                return .none
            case .blocked:
                _ = queue.withLock { $0.outbox.writeBuffer(&bytes) }
                return .wake
            case .failed:
                // Broken socket: the I/O thread sees it (poll reports the hang-up) and fails
                // every request on it, this one included.
                shutdown(fd, Int32(SHUT_RDWR))
                return .none
            }
        }
        switch action {
        case .fail(let error): completion(.failure(error))
        case .wake: wake()
        case .none, .write: break
        }
    }

    /// Requests written and not answered yet.
    var inflightRequests: Int {
        queue.withLock { $0.inflight.count }
    }

    /// Refuses new requests and lets those on the wire finish; the thread then closes the socket
    /// and ends.
    func close() {
        let waiting = queue.withLock { queue -> [RedisRequestQueue.Request] in
            queue.admission = .closing
            var waiting: [RedisRequestQueue.Request] = []
            while let request = queue.unsent.popFirst() { waiting.append(request) }
            return waiting
        }
        for request in waiting { request.completion(.failure(.shutDown)) }
        wake()
    }

    /// Waits until the I/O thread has ended (after `close()`).
    func waitUntilClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = exited.withLock { state -> Bool in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = writeDescriptor(wakeWrite, &byte, 1)
    }

    // MARK: - Wire

    /// RESP arrays of bulk strings, one per command, in one buffer.
    static func encode(_ commands: [[ByteBuffer]]) -> ByteBuffer {
        var size = 0
        for command in commands {
            size += 16
            for argument in command { size += argument.readableBytes + 16 }
        }
        var bytes = ByteBufferAllocator().buffer(capacity: size)
        for command in commands {
            bytes.writeInteger(UInt8(ascii: "*"))
            writeDecimal(command.count, to: &bytes)
            for argument in command {
                bytes.writeInteger(UInt8(ascii: "$"))
                writeDecimal(argument.readableBytes, to: &bytes)
                var argument = argument
                bytes.writeBuffer(&argument)
                bytes.writeInteger(UInt16(0x0D0A))
            }
        }
        return bytes
    }

    /// `value` in decimal followed by CRLF (a small string: no allocation).
    private static func writeDecimal(_ value: Int, to bytes: inout ByteBuffer) {
        bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: 22) { target in
            let count = DecimalDigits.write(UInt64(value), to: target.baseAddress!.assumingMemoryBound(to: UInt8.self))
            target[count] = 0x0D
            target[count + 1] = 0x0A
            return count + 2
        }
    }

    enum WriteOutcome {
        case done
        /// The socket's buffer is full; `bytes` holds what is left.
        case blocked
        case failed
    }

    /// Writes as much of `bytes` as the non-blocking socket takes.
    static func writeSome(_ fd: Int32, _ bytes: inout ByteBuffer) -> WriteOutcome {
        while bytes.readableBytes > 0 {
            let written = bytes.withUnsafeReadableBytes { raw in
                send(fd, raw.baseAddress, raw.count, sendFlags)
            }
            if written > 0 {
                bytes.moveReaderIndex(forwardBy: written)
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return .blocked
            } else {
                return .failed
            }
        }
        return .done
    }

    // MARK: - I/O thread

    /// The loop of the connection's thread: connect when asked, then poll the socket and the
    /// wake pipe, read and complete replies, enforce deadlines.
    private struct IOThread {
        let pipeline: RedisPipeline
        var reader: UnsafeMutablePointer<redisReader>
        var scratch: UnsafeMutableRawBufferPointer

        init(pipeline: RedisPipeline) {
            self.pipeline = pipeline
            reader = Self.makeReader()
            scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
        }

        static func makeReader() -> UnsafeMutablePointer<redisReader> {
            guard let reader = redisReaderCreate() else { fatalError("hiredis: out of memory") }
            // Keep the reader's buffer between replies instead of freeing it past 16 KiB.
            reader.pointee.maxbuf = 4 << 20
            return reader
        }

        mutating func run() {
            defer {
                redisReaderFree(reader)
                scratch.deallocate()
            }
            while true {
                let (link, admission, idle, outboxPending, deadline) = pipeline.queue.withLock { queue in
                    (queue.link, queue.admission, queue.isIdle, queue.outbox.readableBytes > 0, queue.nextDeadline)
                }
                if admission == .closing && idle {
                    if case .connected(let fd) = link {
                        pipeline.writing.withLock { _ in
                            pipeline.queue.withLock { _ = $0.dropped() }
                            closeDescriptor(fd)
                        }
                    }
                    return
                }
                switch link {
                case .disconnected:
                    waitForWake(timeout: -1)
                case .connecting:
                    connect()
                case .connected(let fd):
                    serve(fd, wantWrite: outboxPending, deadline: deadline)
                }
            }
        }

        /// Blocks until the pipe is written (or `timeout` ms pass; -1 for no limit), then drains it.
        func waitForWake(timeout: Int32) {
            var descriptor = pollfd(fd: pipeline.wakeRead, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, timeout)
            drainWake()
        }

        func drainWake() {
            var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            while withUnsafeMutableBytes(of: &sink, { readDescriptor(pipeline.wakeRead, $0.baseAddress, $0.count) }) > 0 {}
        }

        mutating func connect() {
            let connection = RedisConnection(url: pipeline.url, timeout: pipeline.timeout, onConnect: pipeline.onConnect)
            let fd: Int32
            do throws(RedisError) {
                fd = try connection.detachSocket()
            } catch {
                let failed = pipeline.queue.withLock { $0.connectFailed() }
                for request in failed { request.completion(.failure(error)) }
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            redisReaderFree(reader)
            reader = Self.makeReader()
            let closing = pipeline.writing.withLock { _ in
                pipeline.queue.withLock { queue -> Bool in
                    guard queue.admission == .open else { return true }
                    var bytes = queue.connected(fd: fd)
                    switch RedisPipeline.writeSome(fd, &bytes) {
                    case .done: break
                    case .blocked: queue.outbox.writeBuffer(&bytes)
                    case .failed: shutdown(fd, Int32(SHUT_RDWR))
                    }
                    return false
                }
            }
            if closing {
                closeDescriptor(fd)
                let failed = pipeline.queue.withLock { $0.connectFailed() }
                for request in failed { request.completion(.failure(.shutDown)) }
            }
        }

        mutating func serve(_ fd: Int32, wantWrite: Bool, deadline: ContinuousClock.Instant?) {
            var descriptors = [
                pollfd(fd: fd, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0),
                pollfd(fd: pipeline.wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let wait: Duration = deadline.map { max(.zero, ContinuousClock.now.duration(to: $0)) } ?? pipeline.timeout
            let status = poll(&descriptors, 2, Int32(clamping: Self.ceilMilliseconds(wait)))
            if status < 0 && errno != EINTR {
                drop(fd, because: .io("poll failed: \(errno)"))
                return
            }
            if descriptors[1].revents != 0 { drainWake() }
            if descriptors[0].revents & Int16(POLLOUT) != 0 {
                let failed = pipeline.writing.withLock { _ in
                    pipeline.queue.withLock { queue -> Bool in
                        guard case .connected(fd) = queue.link else { return false }
                        return RedisPipeline.writeSome(fd, &queue.outbox) == .failed
                    }
                }
                if failed {
                    drop(fd, because: .io("write failed"))
                    return
                }
            }
            if descriptors[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                guard readReplies(fd) else { return }
            }
            if let deadline = pipeline.queue.withLock({ $0.nextDeadline }), deadline <= .now {
                drop(fd, because: .timeout)
            }
        }

        /// Reads what the socket holds and completes the requests it answers. False when the
        /// socket was dropped.
        mutating func readReplies(_ fd: Int32) -> Bool {
            var replies: [RedisReply] = []
            while true {
                let count = readDescriptor(fd, scratch.baseAddress, scratch.count)
                let code = errno
                if count > 0 {
                    guard redisReaderFeed(reader, scratch.baseAddress?.assumingMemoryBound(to: CChar.self), count) == REDIS_OK else {
                        drop(fd, because: .protocolError("unreadable reply"))
                        return false
                    }
                    while true {
                        var raw: UnsafeMutableRawPointer?
                        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                            drop(fd, because: .protocolError(Self.errorText(reader)))
                            return false
                        }
                        guard let raw else { break }
                        replies.append(RedisConnection.convert(raw.assumingMemoryBound(to: redisReply.self)))
                        freeReplyObject(raw)
                    }
                    // Complete what this read brought before reading on, so the first callers
                    // of a long burst do not wait for the last reply of it.
                    guard complete(replies) else {
                        drop(fd, because: .protocolError("a reply nobody asked for"))
                        return false
                    }
                    replies.removeAll(keepingCapacity: true)
                    if count < scratch.count { break }
                } else if count == 0 {
                    _ = complete(replies)
                    drop(fd, because: .io("connection closed by the server"))
                    return false
                } else if code == EINTR {
                    continue
                } else if code == EAGAIN || code == EWOULDBLOCK {
                    break
                } else {
                    _ = complete(replies)
                    drop(fd, because: .io(String(cString: strerror(code))))
                    return false
                }
            }
            guard complete(replies) else {
                drop(fd, because: .protocolError("a reply nobody asked for"))
                return false
            }
            return true
        }

        /// Hands replies to their requests. False when a reply matched no request.
        func complete(_ replies: [RedisReply]) -> Bool {
            guard !replies.isEmpty else { return true }
            guard let completed = pipeline.queue.withLock({ $0.received(replies) }) else { return false }
            for request in completed { request.completion(.success(request.replies)) }
            return true
        }

        /// Closes the socket (only the I/O thread closes it, so `fd` cannot have been reused) and
        /// fails every request on it.
        func drop(_ fd: Int32, because error: RedisError) {
            let failed = pipeline.writing.withLock { _ -> [RedisRequestQueue.Request]? in
                let failed = pipeline.queue.withLock { queue -> [RedisRequestQueue.Request]? in
                    guard case .connected(fd) = queue.link else { return nil }
                    return queue.dropped()
                }
                if failed != nil { closeDescriptor(fd) }
                return failed
            }
            guard let failed else { return }
            for request in failed { request.completion(.failure(error)) }
        }

        static func errorText(_ reader: UnsafeMutablePointer<redisReader>) -> String {
            withUnsafeBytes(of: reader.pointee.errstr) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        }

        static func ceilMilliseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        }
    }
}

#if canImport(Glibc)
    private let sendFlags = Int32(MSG_NOSIGNAL)
#else
    private let sendFlags: Int32 = 0
#endif

// File-level wrappers, so the system calls are not shadowed by members of the same name.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func readDescriptor(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func writeDescriptor(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
