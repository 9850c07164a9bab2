public import Logging
public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops accepting for a while when an accept fails for want of a resource: the process or the
/// system is out of descriptors (`EMFILE`, `ENFILE`) or memory (`ENOBUFS`, `ENOMEM`). NIO keeps
/// the listener open after such an error and, its read still pending, leaves it registered for
/// readability; the connection is still in the kernel's queue, so the loop spun at 100 % of a
/// core, accepting nothing, for as long as the limit lasted (measured: `ulimit -n 100` and 300
/// connections held open). nginx pauses its accept events for 500 ms in the same case; so does
/// this, by turning the listener's `autoRead` off (NIO then drops its readability interest) and
/// on again, and says so once per pause. Connections in the queue wait, and are accepted when
/// descriptors are free. Installed on a listener by `serverChannelInitializer`: paca's own and
/// the demo origin's.
public final class AcceptBackoff: ChannelInboundHandler {
    public typealias InboundIn = NIOAny

    private enum State {
        case accepting
        /// Paused until `timer` fires.
        case pausing(timer: Scheduled<Void>)
    }

    /// How long accepting pauses after such an error.
    public static let pause = TimeAmount.milliseconds(500)

    private let pause: TimeAmount
    private let logger: Logger
    private var state = State.accepting
    /// Pauses so far, for the log line.
    private(set) var pauses = 0

    public init(pause: TimeAmount = AcceptBackoff.pause, logger: Logger) {
        self.pause = pause
        self.logger = logger
    }

    /// Whether accepting is paused now.
    var isPausing: Bool {
        if case .pausing = state { return true }
        return false
    }

    /// Whether `error` is an accept failing for want of descriptors or memory.
    static func isResourceShortage(_ error: any Error) -> Bool {
        guard let error = error as? IOError else { return false }
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard Self.isResourceShortage(error) else { return context.fireErrorCaught(error) }
        guard case .accepting = state else { return }
        pauses += 1
        logger.warning(
            "accept failed; not accepting for a while",
            metadata: ["error": "\(error)", "pause_ms": "\(pause.nanoseconds / 1_000_000)", "pauses": "\(pauses)"])
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [self] in
            self.resume(context: loopBound.value)
        }
        state = .pausing(timer: timer)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        guard case .pausing(let timer) = state else { return }
        timer.cancel()
        state = .accepting
    }

    private func resume(context: ChannelHandlerContext) {
        guard case .pausing = state else { return }
        state = .accepting
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    }
}
