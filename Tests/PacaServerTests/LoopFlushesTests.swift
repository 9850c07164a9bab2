import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import PacaServer

@Suite("A loop's flushes put off to the end of its turn", .timeLimit(.minutes(1)))
struct LoopFlushesTests {
    /// A connection on `loop` with the production pipeline, its flushes put off through `flushes`.
    func connection(_ flushes: LoopFlushes?, loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try HTTPServer.configurePipeline(
            channel, configuration: .init(), responder: ScriptedResponder(deferredPaths: []), logger: Logger(label: "test"),
            timers: ConnectionTimers(eventLoop: loop, tick: .seconds(1)), flushes: flushes)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func request(_ path: String) -> ByteBuffer {
        ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
    }

    @Test("answers to the reads of one turn leave together when the turn ends, each on its own connection")
    func answersLeaveAtTheEndOfTheTurn() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let first = try connection(flushes, loop: loop)
        let second = try connection(flushes, loop: loop)
        try first.writeInbound(Self.request("/one"))
        try second.writeInbound(Self.request("/two"))
        // Answered and written, not yet flushed.
        #expect(flushes.count == 2)
        #expect(try ConnectionHandlerTests.output(first).isEmpty)
        #expect(try ConnectionHandlerTests.output(second).isEmpty)
        loop.run()
        #expect(flushes.count == 0)
        let one = try ConnectionHandlerTests.output(first)
        let two = try ConnectionHandlerTests.output(second)
        #expect(one.hasPrefix("HTTP/1.1 200 OK") && one.hasSuffix("GET /one "))
        #expect(two.hasPrefix("HTTP/1.1 200 OK") && two.hasSuffix("GET /two "))
        // The next turn: the list was emptied, and a connection joins it again.
        try first.writeInbound(Self.request("/three"))
        #expect(flushes.count == 1)
        loop.run()
        #expect(try ConnectionHandlerTests.output(first).hasSuffix("GET /three "))
        _ = try? first.finish()
        _ = try? second.finish()
    }

    @Test("a connection joins once per turn, however many reads it had")
    func oncePerTurn() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let channel = try connection(flushes, loop: loop)
        try channel.writeInbound(Self.request("/a"))
        try channel.writeInbound(Self.request("/b"))
        #expect(flushes.count == 1)
        loop.run()
        let text = try ConnectionHandlerTests.output(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(text.hasSuffix("GET /b "))
        _ = try? channel.finish()
    }

    @Test("a connection closed before its turn ends is skipped; the others still get their answers")
    func closedBeforeTheFlush() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let closing = try connection(flushes, loop: loop)
        let staying = try connection(flushes, loop: loop)
        try closing.writeInbound(Self.request("/gone"))
        try staying.writeInbound(Self.request("/kept"))
        try closing.close().wait()
        loop.run()
        #expect(flushes.count == 0)
        #expect(try ConnectionHandlerTests.output(staying).hasSuffix("GET /kept "))
        _ = try? staying.finish()
    }

    @Test("without a list (a pipeline built for a test or a benchmark) the answer is flushed at once")
    func withoutAList() throws {
        let loop = EmbeddedEventLoop()
        let channel = try connection(nil, loop: loop)
        try channel.writeInbound(Self.request("/now"))
        #expect(try ConnectionHandlerTests.output(channel).hasSuffix("GET /now "))
        _ = try? channel.finish()
    }
}

extension LoopFlushesTests {
    @Test("the connection that makes a group waiting flushes them all at once, before the turn ends")
    func aFullGroupFlushesAtOnce() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop, group: 2)
        let first = try connection(flushes, loop: loop)
        let second = try connection(flushes, loop: loop)
        let third = try connection(flushes, loop: loop)
        try first.writeInbound(Self.request("/1"))
        #expect(flushes.count == 1)
        #expect(try ConnectionHandlerTests.output(first).isEmpty)
        try second.writeInbound(Self.request("/2"))
        // The second made the group: both left, with no turn of the loop.
        #expect(flushes.count == 0)
        #expect(try ConnectionHandlerTests.output(first).hasSuffix("GET /1 "))
        #expect(try ConnectionHandlerTests.output(second).hasSuffix("GET /2 "))
        try third.writeInbound(Self.request("/3"))
        #expect(flushes.count == 1)
        loop.run()
        #expect(try ConnectionHandlerTests.output(third).hasSuffix("GET /3 "))
        for channel in [first, second, third] { _ = try? channel.finish() }
    }
}
