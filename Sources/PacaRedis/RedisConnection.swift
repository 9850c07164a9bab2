import CHiredis
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One blocking hiredis connection. Confined to the worker thread that owns it: never shared,
/// never touched from a Swift task or an event loop, so it needs no lock.
///
/// It connects lazily (AUTH, SELECT, then the owner's `onConnect`), and after any transport error
/// or timeout it drops the socket — a late reply would otherwise be read as the answer to the next
/// command — and connects again on the next use.
final class RedisConnection {
    private let url: RedisURL
    private let timeout: timeval
    private var context: UnsafeMutablePointer<redisContext>?
    private let onConnect: (RedisConnection) -> Void

    init(url: RedisURL, timeout: Duration, onConnect: @escaping (RedisConnection) -> Void) {
        self.url = url
        let micros = max(1000, timeout.milliseconds * 1000)
        self.timeout = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: .init(micros % 1_000_000))
        self.onConnect = onConnect
    }

    deinit {
        disconnect()
    }

    /// Whether a socket is open.
    var isConnected: Bool { context != nil }

    /// Closes the socket, if any.
    func disconnect() {
        if let context {
            redisFree(context)
            self.context = nil
        }
    }

    /// Sends one command and reads its reply. Arguments are binary-safe.
    func command(_ arguments: [ByteBuffer]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Sends `commands` in one write and reads their replies in order.
    func pipeline(_ commands: [[ByteBuffer]]) throws(RedisError) -> [RedisReply] {
        let context = try connected()
        return try exchange(context, commands)
    }

    /// Connects (AUTH, SELECT, `onConnect`) if needed, then hands the socket over to the caller,
    /// who closes it; this connection is left disconnected. For `RedisPipeline`, which keeps
    /// hiredis' blocking handshake but reads and writes the socket itself.
    func detachSocket() throws(RedisError) -> Int32 {
        let context = try connected()
        let fd = context.pointee.fd
        self.context = nil
        _ = redisFreeKeepFd(context)
        return fd
    }

    private func connected() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        guard let fresh = redisConnectWithTimeout(url.host, Int32(url.port), timeout) else {
            throw .connectFailed("out of memory")
        }
        if fresh.pointee.err != 0 {
            let reason = Self.errorText(fresh)
            redisFree(fresh)
            throw .connectFailed(reason)
        }
        guard redisSetTimeout(fresh, timeout) == REDIS_OK else {
            let reason = Self.errorText(fresh)
            redisFree(fresh)
            throw .connectFailed(reason)
        }
        do throws(RedisError) {
            if let password = url.password {
                var auth = [ByteBuffer(string: "AUTH")]
                if let username = url.username { auth.append(ByteBuffer(string: username)) }
                auth.append(ByteBuffer(string: password))
                if case .error(let message) = try exchange(fresh, [auth])[0] {
                    throw .authenticationFailed(message)
                }
            }
            if url.database != 0 {
                let select = [ByteBuffer(string: "SELECT"), ByteBuffer(string: String(url.database))]
                if case .error(let message) = try exchange(fresh, [select])[0] {
                    throw .selectFailed(message)
                }
            }
        } catch {
            redisFree(fresh)
            throw error
        }
        context = fresh
        onConnect(self)
        // `onConnect` may issue commands; one that failed has already closed the socket.
        guard let context else { throw .io("connection lost right after connecting") }
        return context
    }

    /// Appends every command, then reads as many replies. On a transport error the socket is
    /// closed and the error thrown; error replies are returned as `.error`.
    private func exchange(_ context: UnsafeMutablePointer<redisContext>, _ commands: [[ByteBuffer]]) throws(RedisError)
        -> [RedisReply]
    {
        for arguments in commands {
            let status = Self.withArgv(arguments) { argv, lengths in
                var argv = argv
                return redisAppendCommandArgv(context, Int32(argv.count), &argv, lengths)
            }
            guard status == REDIS_OK else { throw fail(context) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw fail(context) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            defer { freeReplyObject(raw) }
            replies.append(Self.convert(reply))
        }
        return replies
    }

    /// Turns the context's error into a `RedisError` and drops the socket (if it is ours).
    private func fail(_ failed: UnsafeMutablePointer<redisContext>) -> RedisError {
        let code = failed.pointee.err
        let reason = Self.errorText(failed)
        let savedErrno = errno
        if failed == context {
            disconnect()
        }
        if code == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == ETIMEDOUT) {
            return .timeout
        }
        if code == REDIS_ERR_PROTOCOL || code == REDIS_ERR_OOM { return .protocolError(reason) }
        return .io(reason)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            let prefix = bytes.prefix { $0 != 0 }
            return String(decoding: prefix, as: UTF8.self)
        }
    }

    /// Copies a hiredis reply object into a `RedisReply`.
    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            guard let str = value.str, value.len > 0 else { return .bulk(ByteBuffer()) }
            return .bulk(ByteBuffer(bytes: UnsafeRawBufferPointer(start: str, count: Int(value.len))))
        case REDIS_REPLY_STATUS:
            return .status(value.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(value.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(Int(value.elements))
            for index in 0..<Int(value.elements) {
                if let element = value.element[index] { elements.append(convert(element)) }
            }
            return .array(elements)
        default:
            return .null
        }
    }

    /// Calls `body` with argv pointers into the arguments' own storage (no copy); hiredis copies
    /// them into its output buffer before `body` returns.
    private static func withArgv<R>(
        _ arguments: [ByteBuffer], _ body: ([UnsafePointer<CChar>?], [Int]) -> R
    ) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        return collect(arguments[...], &pointers, &lengths, body)
    }

    /// Where a zero-length argument points (hiredis reads no byte of it). Never written after
    /// initialisation, hence safe to share.
    nonisolated(unsafe) private static let empty: UnsafePointer<CChar> = {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return UnsafePointer(pointer)
    }()

    private static func collect<R>(
        _ rest: ArraySlice<ByteBuffer>, _ pointers: inout [UnsafePointer<CChar>?], _ lengths: inout [Int],
        _ body: ([UnsafePointer<CChar>?], [Int]) -> R
    ) -> R {
        guard let first = rest.first else { return body(pointers, lengths) }
        return first.withUnsafeReadableBytes { bytes in
            pointers.append(bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? empty)
            lengths.append(bytes.count)
            return collect(rest.dropFirst(), &pointers, &lengths, body)
        }
    }
}
