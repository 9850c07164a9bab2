public import Logging
public import NIOCore
import NIOPosix
public import PacaCore
import Synchronization

/// The HTTP/1.1 listener: parses requests (plain heads itself, the rest with NIO's decoder),
/// hands each complete request to a `ProxyResponder` on the connection's event loop, and writes
/// responses in order (pipelining), with limits on header and body sizes, an idle timeout, and a
/// graceful stop. It knows nothing about caching.
public final class HTTPServer: Sendable {
    /// Listener settings.
    public struct Configuration: Sendable {
        /// Address to bind. Default `127.0.0.1`.
        public var host: String
        /// Port to bind; 0 picks a free one. Default 8080.
        public var port: Int
        /// Largest request head (request line and fields); larger gets 431. Default 32 KiB.
        public var maxHeaderBytes: Int
        /// Largest request body; larger gets 413. Default 10 MiB.
        public var maxBodyBytes: Int
        /// A connection with no traffic for this long is closed. Default 60 s.
        public var idleTimeout: Duration
        /// Longest time from the first byte of a request to the end of its head; then 408 and
        /// the connection is closed. Default 30 s.
        public var requestHeadTimeout: Duration
        /// Requests read ahead of the one being answered before reading pauses. Default 16.
        public var maxPipelinedRequests: Int
        /// How long a graceful stop waits for requests in flight. Default 30 s.
        public var shutdownGracePeriod: Duration
        /// TCP listen backlog. Default 1024.
        public var backlog: Int
        /// Open client connections at most; a connection beyond it is closed at once (as nginx's
        /// `worker_connections`). Default 10,000.
        public var maxConnections: Int

        /// Creates a configuration with the defaults above.
        public init(
            host: String = "127.0.0.1", port: Int = 8080, maxHeaderBytes: Int = 32 << 10, maxBodyBytes: Int = 10 << 20,
            idleTimeout: Duration = .seconds(60), maxPipelinedRequests: Int = 16, shutdownGracePeriod: Duration = .seconds(30),
            backlog: Int = 1024, maxConnections: Int = 10_000, requestHeadTimeout: Duration = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeout = idleTimeout
            self.maxPipelinedRequests = maxPipelinedRequests
            self.shutdownGracePeriod = shutdownGracePeriod
            self.backlog = backlog
            self.maxConnections = maxConnections
            self.requestHeadTimeout = requestHeadTimeout
        }
    }

    private let configuration: Configuration
    private let responder: any ProxyResponder
    private let group: any EventLoopGroup
    private let logger: Logger
    private let serverChannel = Mutex<(any Channel)?>(nil)
    let connections = ConnectionRegistry()

    /// Creates a server; `start()` binds it.
    public init(
        configuration: Configuration, responder: any ProxyResponder, group: any EventLoopGroup,
        logger: Logger = Logger(label: "paca.server")
    ) {
        self.configuration = configuration
        self.responder = responder
        self.group = group
        self.logger = logger
    }

    /// Binds and starts accepting; returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let responder = self.responder
        let logger = self.logger
        let connections = self.connections
        // One set of connection timers per event loop, made before the first accept.
        let tick = Self.timerTick(configuration)
        let timers = Dictionary(
            group.makeIterator().map { (ObjectIdentifier($0), ConnectionTimers(eventLoop: $0, tick: tick)) },
            uniquingKeysWith: { first, _ in first })
        // And one list of flushes put off to the end of the loop's turn.
        let flushes = Dictionary(
            group.makeIterator().map { (ObjectIdentifier($0), LoopFlushes(eventLoop: $0)) }, uniquingKeysWith: { first, _ in first })
        // No `childChannelOption`s: NIO applies those through a chain of futures per accepted
        // connection (about 6 % of the CPU of a connection-per-request load). The initializer
        // sets what a connection needs synchronously instead. (`TCP_NODELAY` is a `tcpOption`:
        // as a `socketOption` its number is `SO_DEBUG`'s, which is what this line once set.)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(configuration.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .serverChannelOption(.maxMessagesPerRead, value: Self.acceptsPerWakeup)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoff(logger: logger))
                }
            }
            .childChannelInitializer { channel in
                guard connections.count < configuration.maxConnections else {
                    logger.warning(
                        "connection refused: server.max_connections reached", metadata: ["limit": "\(configuration.maxConnections)"])
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try Self.configureSocket(channel)
                    try Self.configurePipeline(
                        channel, configuration: configuration, responder: responder, logger: logger,
                        timers: timers[ObjectIdentifier(channel.eventLoop)], flushes: flushes[ObjectIdentifier(channel.eventLoop)])
                    connections.add(channel)
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        serverChannel.withLock { $0 = channel }
        guard let address = channel.localAddress else { throw ServerError.noLocalAddress }
        logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Connections accepted each time the listener is readable. NIO's default is 4: with many
    /// connections busy, each wakeup of the loop serves every ready one before it accepts four
    /// more, so a burst of new connections (a load balancer's pool opening, a client's 1,000
    /// at once) waits in the kernel's accept queue for hundreds of milliseconds, their requests
    /// already sent. 256 drains such a burst in a few wakeups (as nginx's `multi_accept`).
    static let acceptsPerWakeup: UInt = 256

    /// An accepted connection's socket options, set synchronously on its event loop:
    /// `TCP_NODELAY` (an answer's head and body leave without waiting for an ACK; Linux gives
    /// accepted sockets the listener's, so only other systems need a call per connection) and
    /// up to 16 reads per readable event.
    static func configureSocket(_ channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        #if !os(Linux)
            try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
        #endif
        try options.setOption(.maxMessagesPerRead, value: 16)
    }

    /// Installs a connection's handlers on `channel`, exactly as every accepted connection gets
    /// them: the request decoder (the fast path for plain heads, which hands the connection to
    /// NIO's decoder, with the header limits, for anything else), the `ConnectionHandler` that
    /// answers through `responder`, and the connection's timeouts (head and idle, checked by the
    /// loop's tick), last, where no read, write or flush passes through them: the other two
    /// tell them of reads and writes by direct call. Must run on the channel's
    /// event loop. Public so that a benchmark or a test can drive the production pipeline on an
    /// `EmbeddedChannel`.
    public static func configurePipeline(
        _ channel: any Channel, configuration: Configuration, responder: any ProxyResponder, logger: Logger
    ) throws {
        try configurePipeline(channel, configuration: configuration, responder: responder, logger: logger, timers: nil, flushes: nil)
    }

    /// As above, with the connection's timeouts checked by `timers` (its event loop's); `nil`
    /// gives the connection a set of its own.
    static func configurePipeline(
        _ channel: any Channel, configuration: Configuration, responder: any ProxyResponder, logger: Logger,
        timers: ConnectionTimers?, flushes: LoopFlushes?
    ) throws {
        let timeouts = ConnectionTimeoutHandler(
            headTimeout: .milliseconds(configuration.requestHeadTimeout.milliseconds),
            idleTimeout: .milliseconds(configuration.idleTimeout.milliseconds),
            timers: timers ?? ConnectionTimers(eventLoop: channel.eventLoop, tick: timerTick(configuration)))
        let handler = ConnectionHandler(
            configuration: configuration, responder: responder, logger: logger, timeouts: timeouts, flushes: flushes)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(RequestHeadFastPath(maxHeaderBytes: configuration.maxHeaderBytes, receiver: handler, timeouts: timeouts))
        try pipeline.addHandler(handler)
        try pipeline.addHandler(timeouts)
    }

    /// The listening channel (after `start`, before `shutdown`).
    var listener: (any Channel)? {
        serverChannel.withLock { $0 }
    }

    /// How often a loop checks its connections' timeouts: a quarter of the shorter of the head
    /// and idle timeouts, between 10 ms and one second.
    static func timerTick(_ configuration: Configuration) -> TimeAmount {
        let shortest = min(configuration.requestHeadTimeout, configuration.idleTimeout)
        return ConnectionTimers.tick(forShortest: .milliseconds(shortest.milliseconds))
    }

    /// The bound port (after `start`).
    public var port: Int? {
        serverChannel.withLock { $0?.localAddress?.port }
    }

    /// Stops accepting, lets requests in flight finish (up to the grace period), closes idle
    /// connections at once, then returns.
    public func shutdown() async {
        let channel = serverChannel.withLock { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
        let open = connections.all()
        for connection in open {
            connection.pipeline.fireUserInboundEventTriggered(ConnectionHandler.Quiesce())
        }
        // Whichever comes first: every connection closed, or the grace period over. (Awaiting
        // the close futures in a task group would not do: a group waits for all its children,
        // and a close future ignores cancellation, so a request that never ends would hold the
        // stop past the grace.) Each path completes `done` once: the timer either fires or is
        // cancelled, never both.
        let loop = group.next()
        let done = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(configuration.shutdownGracePeriod.milliseconds) * 1_000_000)) {}
        timer.futureResult.whenComplete { _ in done.succeed() }
        EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: loop).whenComplete { _ in timer.cancel() }
        try? await done.futureResult.get()
        for connection in connections.all() { try? await connection.close() }
    }
}

/// Listener failures.
public enum ServerError: Error {
    /// The socket has no local address after binding.
    case noLocalAddress
}

/// The open connections, so a stop can reach each one.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    func all() -> [any Channel] {
        channels.withLock { Array($0.values) }
    }

    var count: Int { channels.withLock { $0.count } }
}
