import NIOCore
import NIOPosix
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaServer

/// Answers every request with a short body.
private struct FixedResponder: ProxyResponder {
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
}
