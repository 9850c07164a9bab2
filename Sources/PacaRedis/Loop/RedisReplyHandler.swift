import NIOCore

/// The channel handler of a `RedisLoopConnection`: writes requests, reads the replies
/// (`RESPDecoder`, bulk strings as slices of the bytes read), completes the requests in wire
/// order, and enforces their deadlines.
///
/// Everything runs on the channel's event loop. A request made while others are on the wire
/// waits for one flush per turn of the loop, so concurrent requests share a `writev`. One timer
/// per connection covers every request:
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
    /// The start of a reply not complete yet.
    private var pending: ByteBuffer?
    /// Bytes still to drop of a value too large to hold (`RESPDecoder`).
    private var skipping = 0
    private let maxReplyBytes: Int
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var flushScheduled = false

    /// Requests written and not answered yet.
    var inflightRequests: Int { inflight.count }

    /// Bytes of storage held for a reply not complete yet (for tests).
    var pendingStorageBytes: Int { pending?.storageCapacity ?? 0 }

    /// Whether requests are still taken (false once the connection failed, even before the
    /// channel's close has completed).
    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// A handler that refuses replies larger than `maxReplyBytes`.
    init(maxReplyBytes: Int) {
        self.maxReplyBytes = maxReplyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        state = .open(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(.io("connection closed"))
        pending = nil
    }

    /// Writes `bytes` (`expected` commands) and returns the future of their replies.
    func submit(_ bytes: ByteBuffer, expected: Int, deadline: NIODeadline, promise: EventLoopPromise<[RedisReply]>) {
        precondition(expected > 0, "a request with no command would take the next request's replies")
        guard case .open(let context) = state else {
            if case .failed(let error) = state { promise.fail(error) }
            return
        }
        inflight.append(Request(expected: expected, deadline: deadline, promise: promise))
        // A request on an idle connection goes out at once. Behind others, it waits for one
        // flush for every request made in this turn of the loop: under load the gets of many
        // connections' misses go out in one write.
        guard inflight.count > 1 else {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            armTimer(context)
            return
        }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                flushScheduled = false
                if case .open(let context) = state { context.flush() }
            }
        }
        armTimer(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = state else { return }
        var buffer = unwrapInboundIn(data)
        if skipping > 0 {
            // The rest of a value too large to hold, already answered as a miss.
            let dropped = min(skipping, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: dropped)
            skipping -= dropped
            guard buffer.readableBytes > 0 else { return }
        }
        if var earlier = pending {
            pending = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        while true {
            let decoded: RedisReply?
            do throws(RESPDecoder.ProtocolError) {
                decoded = try RESPDecoder.next(&buffer, maxReplyBytes: maxReplyBytes, skipping: &skipping)
            } catch {
                close(context, because: .protocolError(error.reason))
                return
            }
            guard let reply = decoded else { break }
            guard !inflight.isEmpty else {
                close(context, because: .protocolError("a reply nobody asked for"))
                return
            }
            inflight[inflight.startIndex].replies.append(reply)
            if inflight[inflight.startIndex].replies.count == inflight[inflight.startIndex].expected {
                let request = inflight.removeFirst()
                request.promise.succeed(request.replies)
            }
            // A completed request may have closed the connection.
            guard case .open = state else { return }
        }
        if buffer.readableBytes > 0 {
            // Only the unread bytes are kept: replies already decoded do not stay in memory
            // behind a reply that keeps arriving in pieces.
            buffer.discardReadBytes()
            pending = buffer
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.io("connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context, because: .io("\(error)"))
    }

    /// Fails every request with `error` and closes the channel (the owner shutting down).
    func close(because error: RedisError) {
        guard case .open(let context) = state else { return }
        close(context, because: error)
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
        guard let deadline = inflight.first?.deadline else { return }
        if let timer {
            // Armed for a later deadline (the login's, when the requests that waited for it are
            // older): armed again for the oldest.
            guard deadline < timerDeadline else { return }
            timer.cancel()
        }
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard case .open(let context) = state, let oldest = inflight.first else { return }
            if oldest.deadline <= context.eventLoop.now {
                close(context, because: .timeout)
            } else {
                armTimer(context)
            }
        }
    }
}
