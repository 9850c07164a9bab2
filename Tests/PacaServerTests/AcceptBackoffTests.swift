import Glibc
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import PacaServer

/// Records the errors that reach the end of the pipeline.
private final class ErrorRecorder: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    var errors: [any Error] = []

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

@Suite("The listener pauses accepting when it runs out of descriptors", .timeLimit(.minutes(1)))
struct AcceptBackoffTests {
    private func listener() throws -> (EmbeddedChannel, EmbeddedEventLoop, ErrorRecorder, AcceptBackoff) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let backoff = AcceptBackoff(pause: .milliseconds(500), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let recorder = ErrorRecorder()
        try channel.pipeline.syncOperations.addHandler(backoff)
        try channel.pipeline.syncOperations.addHandler(recorder)
        return (channel, loop, recorder, backoff)
    }

    @Test("after EMFILE it pauses once for the whole pause, then accepts again; the error goes no further")
    func pausesOnEMFILE() throws {
        let (channel, loop, recorder, backoff) = try listener()
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(backoff.isPausing)
        // A second failure during the pause starts no second one.
        channel.pipeline.fireErrorCaught(IOError(errnoCode: ENFILE, reason: "accept"))
        #expect(backoff.pauses == 1)
        loop.advanceTime(by: .milliseconds(499))
        #expect(backoff.isPausing)
        loop.advanceTime(by: .milliseconds(1))
        #expect(!backoff.isPausing)
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(backoff.pauses == 2)
        #expect(recorder.errors.isEmpty)
        _ = try channel.finish()
    }

    @Test("other errors pass through and do not pause")
    func otherErrorsPass() throws {
        let (channel, _, recorder, backoff) = try listener()
        channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNABORTED, reason: "accept"))
        #expect(!backoff.isPausing)
        #expect(recorder.errors.count == 1)
        _ = try channel.finish()
    }

    @Test("descriptors and memory are the shortages that pause")
    func shortages() {
        for code in [EMFILE, ENFILE, ENOBUFS, ENOMEM] {
            #expect(AcceptBackoff.isResourceShortage(IOError(errnoCode: code, reason: "accept")))
        }
        #expect(!AcceptBackoff.isResourceShortage(IOError(errnoCode: ECONNABORTED, reason: "accept")))
    }

    @Test("a real listener stops reading its socket on EMFILE: readability is no longer asked for")
    func realListenerStopsReading() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = HTTPServer(configuration: .init(port: 0), responder: FixedResponder(), group: group)
        try await server.start()
        let listener = try #require(server.listener)
        #expect(try await listener.getOption(.autoRead).get())
        // Fired and read in one task on the listener's loop, so the pause cannot end in between.
        let reading = try await listener.eventLoop.submit {
            listener.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
            return try listener.syncOptions?.getOption(.autoRead)
        }.get()
        #expect(reading == false)
        await server.shutdown()
        try await group.shutdownGracefully()
    }
}
