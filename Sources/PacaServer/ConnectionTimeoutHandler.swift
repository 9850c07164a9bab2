import NIOCore

/// The timeouts of one connection: the request-head timeout (nginx's `client_header_timeout`: a
/// client trickling header bytes cannot hold a connection forever) and the idle timeout (a
/// keep-alive connection, or a streamed body the client stopped reading, with no traffic for that
/// long is closed). The first bytes of a new request start the head clock: the request decoder
/// (`RequestHeadFastPath`, which sees every byte first) calls `bytesArrived()`, and
/// `ConnectionHandler` calls `headReceived()` and `requestComplete()`, all directly (no pipeline
/// event, no dynamic cast per request). Activity is a time stamp taken on each read, and a mark
/// `ConnectionHandler` sets on each write (`wrote()`), which the next check turns into a time
/// stamp. In the listener's pipeline the handler sits last: it is inbound only, so no write or
/// flush passes through it, and no read either (placed in front of a decoder instead, its
/// `channelRead` notes the bytes itself).
///
/// The connection has no timer of its own: while it is active it belongs to its event loop's
/// `ConnectionTimers`, whose tick calls `check(now:)`. A request costs no schedule and no cancel,
/// and a connection's close costs no search of the loop's timer heap. When the head deadline
/// passes, the client gets 408 and the connection is closed; when the idle deadline passes,
/// `IdleStateHandler.IdleStateEvent.all` goes inbound from the pipeline's head, which
/// `ConnectionHandler` acts on.
final class ConnectionTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Where the request on the wire stands, for the head timeout.
    private enum Head {
        /// Between requests: the next bytes start a head.
        case awaited
        /// Bytes of a head are in since this instant; its end is not.
        case receiving(since: NIODeadline)
        /// The head is complete; the bytes now are its body.
        case complete
    }

    /// Whether the connection is checked by its loop's tick.
    private enum Membership {
        case out
        /// In `timers` at `slot`, checked with `context`.
        case member(slot: Int, context: ChannelHandlerContext)
    }

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let timers: ConnectionTimers
    private var head = Head.awaited
    private var lastActivity = NIODeadline.now()
    /// Something was written since the last check (`wrote()`).
    private var wroteSinceCheck = false
    private var membership = Membership.out

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount, timers: ConnectionTimers) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.timers = timers
    }

    /// A complete request head was decoded: its clock stops.
    func headReceived() {
        head = .complete
    }

    /// A request (head and body) is complete: the next bytes start a head.
    func requestComplete() {
        head = .awaited
    }

    /// Something was written to the connection: it is active. The next check counts its idle
    /// time from then, so a write's activity is late by a tick at most (a quarter of the shorter
    /// timeout, `ConnectionTimers.tick(forShortest:)`).
    func wrote() {
        wroteSinceCheck = true
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { join(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leave()
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        join(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        leave()
        head = .awaited
        context.fireChannelInactive()
    }

    /// Bytes arrived: the connection is active, and the first bytes of a request start its head
    /// clock.
    func bytesArrived() {
        let now = NIODeadline.now()
        lastActivity = now
        if case .awaited = head { head = .receiving(since: now) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesArrived()
        context.fireChannelRead(data)
    }

    /// Ends here: nothing after this handler reads.
    func channelReadComplete(context: ChannelHandlerContext) {}

    private func join(context: ChannelHandlerContext) {
        guard case .out = membership else { return }
        membership = .member(slot: timers.add(self), context: context)
    }

    private func leave() {
        guard case .member(let slot, _) = membership else { return }
        membership = .out
        timers.remove(slot: slot)
    }

    /// Called by the loop's tick: acts on a deadline that has passed.
    func check(now: NIODeadline) {
        guard case .member(_, let context) = membership else { return }
        guard context.channel.isActive else { return leave() }
        if case .receiving(let since) = head, now >= since + headTimeout {
            head = .complete
            leave()
            let reply = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(NIOAny(ByteBuffer(string: reply))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        if wroteSinceCheck {
            wroteSinceCheck = false
            lastActivity = now
        }
        if now >= lastActivity + idleTimeout {
            // Counted afresh from now, so a connection kept open after the event is checked again.
            lastActivity = now
            // From the head: the handlers that act on it sit before this one.
            context.pipeline.syncOperations.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        }
    }
}
