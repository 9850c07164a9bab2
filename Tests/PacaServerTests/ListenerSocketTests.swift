import NIOCore
import NIOPosix
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaServer

/// Answers every request with a short body (the listener's tests share it).
struct FixedResponder: ProxyResponder {
    func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        .immediate(ProxyResponse(status: .ok, body: ByteBuffer(string: "ok")))
    }
}

@Suite("The listener's accepted sockets", .timeLimit(.minutes(1)))
struct ListenerSocketTests {
    @Test("an accepted connection has TCP_NODELAY and reads up to 16 times per readable event")
    func acceptedSocketOptions() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = HTTPServer(configuration: .init(port: 0), responder: FixedResponder(), group: group)
        let address = try await server.start()
        let connection = try await RawConnection.connect(port: try #require(address.port), group: group)
        try await connection.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await connection.readResponse().status == 200)
        let accepted = try #require(server.connections.all().first)
        #expect(try await accepted.getOption(.tcpOption(.tcp_nodelay)).get() != 0)
        #expect(try await accepted.getOption(.maxMessagesPerRead).get() == 16)
        await connection.close()
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    /// A burst of connections that queued while the loop was busy is taken in few wakeups of the
    /// listener: with NIO's default of 4 accepts per wakeup, 1,000 connections opened at once
    /// waited up to a second behind a loop that serves every ready connection on each turn.
    @Test("the listener accepts up to 256 connections per readable event")
    func listenerAcceptsBursts() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = HTTPServer(configuration: .init(port: 0), responder: FixedResponder(), group: group)
        try await server.start()
        let listener = try #require(server.listener)
        #expect(try await listener.getOption(.maxMessagesPerRead).get() == 256)
        await server.shutdown()
        try await group.shutdownGracefully()
    }
}
