import NIOCore
import NIOPosix

/// An origin that answers every connection with fixed bytes and then closes it, for origins
/// that lie: truncated bodies, garbage status lines, bad chunking.
public final class RawOrigin: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The bound port.
    public let port: Int

    /// Starts an origin that writes `reply` after reading a request head, then closes.
    public convenience init(reply: String) async throws {
        try await self.init(replyBytes: Array(reply.utf8))
    }

    /// Starts an origin that writes exactly `replyBytes` (binary bodies included) after reading
    /// a request head, then closes.
    public init(replyBytes: [UInt8]) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let bytes = ByteBuffer(bytes: replyBytes)
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Replier(reply: bytes))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Stops the origin.
    public func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    private final class Replier: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let reply: ByteBuffer

        init(reply: ByteBuffer) {
            self.reply = reply
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            guard text.contains("\r\n\r\n") else { return }
            context.writeAndFlush(NIOAny(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
