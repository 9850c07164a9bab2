import NIOCore
import NIOEmbedded
import Testing

@testable import PacaServer

/// Records the user events that reach the end of the pipeline.
private final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var idleEvents = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { idleEvents += 1 }
    }
}

@Suite("A loop's connection timers", .timeLimit(.minutes(1)))
struct ConnectionTimersTests {
    /// A connection on `loop` checked by `timers`, active, with a recorder behind its timeouts.
    private func connection(
        _ timers: ConnectionTimers, loop: EmbeddedEventLoop, headTimeout: TimeAmount = .seconds(1),
        idleTimeout: TimeAmount = .seconds(60)
    ) throws -> (EmbeddedChannel, EventRecorder) {
        let recorder = EventRecorder()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(
            ConnectionTimeoutHandler(headTimeout: headTimeout, idleTimeout: idleTimeout, timers: timers))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    @Test("connections join when active and leave when closed; the tick stops at the first check with none in")
    func membership() throws {
        let loop = EmbeddedEventLoop()
        let timers = ConnectionTimers(eventLoop: loop, tick: .milliseconds(250))
        #expect(!timers.isTicking)
        let (first, _) = try connection(timers, loop: loop)
        let (second, _) = try connection(timers, loop: loop)
        #expect(timers.count == 2)
        #expect(timers.isTicking)
        try first.close().wait()
        #expect(timers.count == 1)
        let (third, _) = try connection(timers, loop: loop)
        #expect(timers.count == 2)
        try second.close().wait()
        try third.close().wait()
        #expect(timers.count == 0)
        #expect(timers.isTicking)
        loop.advanceTime(by: .milliseconds(250))
        #expect(!timers.isTicking)
    }

    @Test("a head still incomplete after its timeout gets 408 at the next check and the connection closes")
    func headTimeout() throws {
        let loop = EmbeddedEventLoop()
        let timers = ConnectionTimers(eventLoop: loop, tick: .milliseconds(250))
        let (channel, _) = try connection(timers, loop: loop)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHo"))
        timers.check(now: .now() + .milliseconds(500))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive)
        timers.check(now: .now() + .seconds(2))
        let reply = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: reply).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        loop.run()
        #expect(!channel.isActive)
        #expect(timers.count == 0)
    }

    @Test("a connection idle past its timeout is told so once per timeout; traffic starts the count again")
    func idleTimeout() throws {
        let loop = EmbeddedEventLoop()
        let timers = ConnectionTimers(eventLoop: loop, tick: .seconds(1))
        let (channel, recorder) = try connection(timers, loop: loop, idleTimeout: .seconds(60))
        timers.check(now: .now() + .seconds(30))
        #expect(recorder.idleEvents == 0)
        let late = NIODeadline.now() + .seconds(61)
        timers.check(now: late)
        #expect(recorder.idleEvents == 1)
        // Counted afresh from the event: not again at once.
        timers.check(now: late + .seconds(1))
        #expect(recorder.idleEvents == 1)
        timers.check(now: late + .seconds(61))
        #expect(recorder.idleEvents == 2)
        _ = try channel.finish()
    }

    @Test("a write counts as activity from the next check: the idle time starts again there")
    func writeIsActivity() throws {
        let loop = EmbeddedEventLoop()
        let timers = ConnectionTimers(eventLoop: loop, tick: .seconds(1))
        let recorder = EventRecorder()
        let timeouts = ConnectionTimeoutHandler(headTimeout: .seconds(1), idleTimeout: .seconds(60), timers: timers)
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(timeouts)
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let start = NIODeadline.now()
        // A write (the answer to a request the origin took 50 s over) 50 s in.
        timers.check(now: start + .seconds(49))
        timeouts.wrote()
        timers.check(now: start + .seconds(50))
        // 61 s after the start, 11 s after the write: not idle.
        timers.check(now: start + .seconds(61))
        #expect(recorder.idleEvents == 0)
        // 60 s after the check that saw the write: idle.
        timers.check(now: start + .seconds(110))
        #expect(recorder.idleEvents == 1)
        // A response's write no longer passes through the handler: it is inbound only.
        #expect(!(timeouts is any _ChannelOutboundHandler))
        _ = try channel.finish()
    }

    @Test("the tick is a quarter of the shortest timeout, from 10 ms to one second")
    func tickLength() {
        #expect(ConnectionTimers.tick(forShortest: .seconds(30)) == .seconds(1))
        #expect(ConnectionTimers.tick(forShortest: .seconds(1)) == .milliseconds(250))
        #expect(ConnectionTimers.tick(forShortest: .milliseconds(20)) == .milliseconds(10))
    }
}
