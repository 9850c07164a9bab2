import CHiredis
import NIOCore

/// The channel handler of a `RedisLoopConnection`: writes requests, reads the replies with
/// hiredis' reader, completes the requests in wire order, and enforces their deadlines.
///
/// Everything runs on the channel's event loop. One timer per connection covers every request:
/// it is armed for the oldest request's deadline and, when it fires with newer requests on the
/// wire, armed again for the oldest of those; no timer is scheduled or cancelled per request.
/// A request not answered by its deadline closes the connection and fails every request on it
/// (a late reply would otherwise be read as the answer to the next request).
final class RedisReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One caller's commands, answered by `expected` replies.
    struct Request {
        let expected: Int
        let deadline: NIODeadline
        let promise: EventLoopPromise<[RedisReply]>
        var replies: [RedisReply] = []
    }

    /// Where the connection stands.
    enum State {
        /// Requests are written and answered.
        case open(ChannelHandlerContext)
        /// Closed or closing, for the reason given: new requests fail with it.
        case failed(RedisError)
    }

    private var state = State.failed(.io("not connected"))
    private var inflight = CircularBuffer<Request>(initialCapacity: 16)
    private var reader: UnsafeMutablePointer<redisReader>?
    private var timer: Scheduled<Void>?

    /// Requests written and not answered yet.
    var inflightRequests: Int { inflight.count }

    /// Whether requests are still taken (false once the connection failed, even before the
    /// channel's close has completed).
    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let reader = redisReaderCreate() else {
            state = .failed(.protocolError("hiredis: out of memory"))
            context.close(promise: nil)
            return
        }
        // Keep the reader's buffer between replies instead of freeing it past 16 KiB.
        reader.pointee.maxbuf = 4 << 20
        self.reader = reader
        state = .open(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(.io("connection closed"))
        if let reader { redisReaderFree(reader) }
        reader = nil
    }

    /// Writes `bytes` (`expected` commands) and returns the future of their replies.
    func submit(_ bytes: ByteBuffer, expected: Int, deadline: NIODeadline, promise: EventLoopPromise<[RedisReply]>) {
        guard case .open(let context) = state else {
            if case .failed(let error) = state { promise.fail(error) }
            return
        }
        inflight.append(Request(expected: expected, deadline: deadline, promise: promise))
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        armTimer(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = state, let reader else { return }
        let buffer = unwrapInboundIn(data)
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard fed == REDIS_OK else {
            close(context, because: .protocolError("unreadable reply"))
            return
        }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                close(context, because: .protocolError(Self.errorText(reader)))
                return
            }
            guard let raw else { break }
            let reply = RedisConnection.convert(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            guard !inflight.isEmpty else {
                close(context, because: .protocolError("a reply nobody asked for"))
                return
            }
            inflight[inflight.startIndex].replies.append(reply)
            if inflight[inflight.startIndex].replies.count == inflight[inflight.startIndex].expected {
                let request = inflight.removeFirst()
                request.promise.succeed(request.replies)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.io("connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context, because: .io("\(error)"))
    }

    /// Fails every request with `error` and closes the channel.
    func close(_ context: ChannelHandlerContext, because error: RedisError) {
        fail(error)
        context.close(promise: nil)
    }

    /// Marks the connection failed (the first reason stays) and fails every request on it.
    private func fail(_ error: RedisError) {
        let reason: RedisError
        switch state {
        case .open: reason = error
        case .failed(let earlier): reason = earlier
        }
        state = .failed(reason)
        timer?.cancel()
        timer = nil
        while let request = inflight.popFirst() { request.promise.fail(reason) }
    }

    private func armTimer(_ context: ChannelHandlerContext) {
        guard timer == nil, let deadline = inflight.first?.deadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard case .open(let context) = state, let oldest = inflight.first else { return }
            if oldest.deadline <= .now() {
                close(context, because: .timeout)
            } else {
                armTimer(context)
            }
        }
    }

    private static func errorText(_ reader: UnsafeMutablePointer<redisReader>) -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
