import NIOCore

/// Bounds how long a client may take to send a request head (nginx's `client_header_timeout`),
/// so a client trickling header bytes cannot hold a connection forever. Sits in front of the
/// decoder and sees raw bytes: the first bytes of a new request start the timer, the
/// `ConnectionHandler`'s `HeadReceived` event stops it; bytes of a request body never start it.
/// When it fires, the client gets 408 and the connection is closed.
final class HeadTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent outbound by the connection handler when a complete request head was decoded.
    struct HeadReceived {}
    /// Sent outbound by the connection handler when a request (head and body) is complete.
    struct RequestComplete {}

    private enum State {
        /// Between requests: the next bytes start a head.
        case awaitingHead
        /// Head done; the bytes now are its body.
        case inBody
    }

    private let timeout: TimeAmount
    private var state = State.awaitingHead
    /// When the head being received began; `nil` between heads.
    private var headStarted: NIODeadline?
    /// The one timer of the connection. It is not cancelled when a head completes: it fires at
    /// the earliest deadline it was armed for and re-arms itself only if a head is still
    /// pending (as nginx re-arms its timers), so a request costs no schedule and no cancel.
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .awaitingHead = state, headStarted == nil {
            let now = NIODeadline.now()
            headStarted = now
            if timer == nil { arm(context: context, at: now + timeout) }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is HeadReceived:
            headStarted = nil
            state = .inBody
            promise?.succeed()
        case is RequestComplete:
            state = .awaitingHead
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        headStarted = nil
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.fire(context: loopBound.value)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        timer = nil
        guard let started = headStarted, case .awaitingHead = state, context.channel.isActive else { return }
        let deadline = started + timeout
        guard NIODeadline.now() >= deadline else {
            // A later head than the one the timer was armed for: wait for its own deadline.
            arm(context: context, at: deadline)
            return
        }
        let reply = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
