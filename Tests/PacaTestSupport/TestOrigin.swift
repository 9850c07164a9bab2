public import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An in-process origin on 127.0.0.1 and a free port, answering with whatever the test's
/// closure says, and recording every request it sees.
public final class TestOrigin: Sendable {
    /// One request as the origin received it.
    public struct Seen: Sendable {
        public var method: String
        public var uri: String
        /// Header fields as (name, value), in order.
        public var headers: [(String, String)]
        public var body: String

        /// The first value of `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// What to answer.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        /// Answer after this long (scheduled on the origin's loop, not slept).
        public var delay: TimeAmount
        /// Never answer (for timeout tests).
        public var hang: Bool

        public init(status: Int = 200, headers: [(String, String)] = [], body: String = "", delay: TimeAmount = .zero, hang: Bool = false) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
            self.hang = hang
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let store: SeenStore
    /// The bound port.
    public let port: Int

    /// Starts an origin that answers every request with `handler`'s reply.
    public init(_ handler: @escaping @Sendable (Seen) -> Reply) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let store = SeenStore()
        self.store = store
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(OriginHandler(handler: handler, record: store.append))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Every request seen so far.
    public var requests: [Seen] { store.all }

    /// How many requests were seen.
    public var requestCount: Int { store.all.count }

    /// Returns once the origin has seen at least `count` requests (the test's own time limit
    /// bounds the wait).
    public func waitForRequests(_ count: Int) async {
        await store.wait(for: count)
    }

    /// Stops the origin.
    public func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// The requests an origin has seen, and the tests waiting for a count of them.
private final class SeenStore: Sendable {
    private struct State {
        var seen: [TestOrigin.Seen] = []
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var all: [TestOrigin.Seen] { state.withLock { $0.seen } }

    @Sendable func append(_ request: TestOrigin.Seen) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.seen.append(request)
            let count = state.seen.count
            let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
            state.waiters.removeAll { $0.0 <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    func wait(for count: Int) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.seen.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

private final class OriginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: @Sendable (TestOrigin.Seen) -> TestOrigin.Reply
    let record: @Sendable (TestOrigin.Seen) -> Void
    var head: HTTPRequestHead?
    var body = ""

    init(handler: @escaping @Sendable (TestOrigin.Seen) -> TestOrigin.Reply, record: @escaping @Sendable (TestOrigin.Seen) -> Void) {
        self.handler = handler
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = ""
        case .body(let buffer):
            body += String(buffer: buffer)
        case .end:
            guard let head else { return }
            let seen = TestOrigin.Seen(
                // NIO spells SSDP's M-SEARCH `MSEARCH`; record what was on the wire.
                method: head.method == .MSEARCH ? "M-SEARCH" : head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body)
            record(seen)
            let reply = handler(seen)
            if reply.hang { return }
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let keepAlive = head.isKeepAlive
            let isHead = head.method == .HEAD
            let send = {
                let context = loopBound.value
                var headers = HTTPHeaders(reply.headers)
                if !headers.contains(name: "content-length") { headers.add(name: "Content-Length", value: String(reply.body.utf8.count)) }
                context.write(
                    NIOAny(
                        HTTPServerResponsePart.head(
                            HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: reply.status), headers: headers))),
                    promise: nil)
                if !isHead, !reply.body.isEmpty {
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
                }
                context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
            }
            if reply.delay > .zero {
                context.eventLoop.assumeIsolated().scheduleTask(in: reply.delay) { send() }
            } else {
                send()
            }
        }
    }
}
