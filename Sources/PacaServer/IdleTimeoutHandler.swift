import NIOCore

/// Closes idle keep-alive connections (and stalled streams) like NIO's `IdleStateHandler` with
/// `allTimeout`, but without its per-write promise and callback: activity is a time stamp taken
/// on each read and each write, and one timer per connection re-arms itself lazily for the
/// latest activity. When a whole `timeout` passes without either, it sends
/// `IdleStateHandler.IdleStateEvent.all` inbound, which `ConnectionHandler` acts on.
final class IdleTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        if timer == nil { arm(context: context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    private func arm(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + timeout) { [self] in
            self.fire(context: loopBound.value)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        timer = nil
        guard context.channel.isActive else { return }
        if NIODeadline.now() >= lastActivity + timeout {
            // Counted afresh from now, so a connection kept open after the event is checked again.
            lastActivity = .now()
            context.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        }
        if context.channel.isActive { arm(context: context) }
    }
}
