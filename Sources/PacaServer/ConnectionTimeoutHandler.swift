import NIOCore

/// The timeouts of one connection, with one timer: the request-head timeout (nginx's
/// `client_header_timeout`: a client trickling header bytes cannot hold a connection forever) and
/// the idle timeout (a keep-alive connection, or a streamed body the client stopped reading, with
/// no traffic for that long is closed). Sits in front of the decoder, so it sees raw bytes: the
/// first bytes of a new request start the head clock; `ConnectionHandler` calls `headReceived()`
/// and `requestComplete()` directly (no pipeline event, no dynamic cast per request). Activity is
/// a time stamp taken on each read and each write.
///
/// The timer is never cancelled or re-armed on the way of a request (as nginx keeps its timers):
/// it fires at a deadline no later than any deadline that may come due before it, then checks and
/// re-arms itself. A head that starts at or after an arming has its deadline at least
/// `headTimeout` later, so the timer is armed at most `headTimeout` ahead; a request costs no
/// schedule and no cancel. When the head deadline passes, the client gets 408 and the connection
/// is closed; when the idle deadline passes, `IdleStateHandler.IdleStateEvent.all` goes inbound,
/// which `ConnectionHandler` acts on.
final class ConnectionTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    /// Writes pass through untouched (only their time is noted), whatever they carry.
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the request on the wire stands, for the head timeout.
    private enum Head {
        /// Between requests: the next bytes start a head.
        case awaited
        /// Bytes of a head are in since this instant; its end is not.
        case receiving(since: NIODeadline)
        /// The head is complete; the bytes now are its body.
        case complete
    }

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var head = Head.awaited
    private var lastActivity = NIODeadline.now()
    /// The one timer of the connection; `nil` before the channel is active and after it closed.
    private var timer: Scheduled<Void>?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    /// A complete request head was decoded: its clock stops.
    func headReceived() {
        head = .complete
    }

    /// A request (head and body) is complete: the next bytes start a head.
    func requestComplete() {
        head = .awaited
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context, now: .now()) }
    }

    func channelActive(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        lastActivity = now
        if timer == nil { arm(context: context, now: now) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        head = .awaited
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        lastActivity = now
        if case .awaited = head { head = .receiving(since: now) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    /// Arms the timer at the earliest deadline that can come due: the pending head's, the idle
    /// one, or `headTimeout` from now (a head starting later is due no earlier than that).
    private func arm(context: ChannelHandlerContext, now: NIODeadline) {
        var deadline = min(lastActivity + idleTimeout, now + headTimeout)
        if case .receiving(let since) = head { deadline = min(deadline, since + headTimeout) }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.fire(context: loopBound.value)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        timer = nil
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if case .receiving(let since) = head, now >= since + headTimeout {
            head = .complete
            let reply = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        if now >= lastActivity + idleTimeout {
            // Counted afresh from now, so a connection kept open after the event is checked again.
            lastActivity = now
            context.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        }
        if context.channel.isActive { arm(context: context, now: now) }
    }
}
