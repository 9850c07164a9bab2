public import Logging
public import NIOCore
import NIOPosix
import PacaAccessLog
public import PacaCore
public import PacaEngine
import PacaRedis
import PacaServer
public import PacaStorage
public import PacaUpstream
import Synchronization

/// `paca serve`: wires configuration, L1, the origin client, the access log, the engine and the
/// listener together, and takes them down in reverse order.
public final class ProxyApplication: Sendable {
    /// The resolved configuration.
    public let configuration: PacaConfiguration
    /// The tiers.
    public let cache: TieredCache
    /// The memory tier.
    public var memory: MemoryCache { cache.memory }
    /// The request pipeline.
    public let engine: ProxyEngine
    private let server: HTTPServer
    /// L2, when configured: its expiry sweep runs from `start()` to `shutdown()`.
    private let disk: DiskCache?
    /// The task running `disk.run()`.
    private let sweeper = Mutex<Task<Void, Never>?>(nil)
    private let upstream: CurlOriginClient?
    /// The libcurl origin client, unless the application was given another one.
    public var originClient: CurlOriginClient? { upstream }
    private let accessLog: AccessLogWriter?
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let logger: Logger

    /// Builds the application. `origin` and `clock` replace the real ones in tests, and
    /// `sweepClock` the clock that paces L2's expiry sweep (default `ContinuousClock`); `group`
    /// defaults to one event loop per core.
    public init(
        configuration: PacaConfiguration,
        group: (any EventLoopGroup)? = nil,
        origin: (any OriginClient)? = nil,
        clock: any WallClock = SystemWallClock(),
        sweepClock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "paca")
    ) throws {
        self.configuration = configuration
        self.logger = logger
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops ?? ProcessorAffinity.usableProcessors())
            self.ownsGroup = true
        }
        var lowerTiers: [any CacheTier] = []
        disk = try configuration.disk.map { settings in
            try DiskCache(
                directory: settings.path, maxBytes: settings.maxBytes, maxEntryBytes: settings.maxEntryBytes, clock: clock,
                sweepClock: sweepClock, logger: logger)
        }
        if let disk { lowerTiers.append(disk) }
        if let redis = configuration.redis {
            let settings = try RedisTier.Configuration(
                url: redis.url, passwordEnvironmentVariable: redis.passwordEnvironmentVariable, namespace: redis.namespace,
                timeout: redis.timeout, maxEntryBytes: redis.maxEntryBytes)
            lowerTiers.append(RedisTier(configuration: settings, clock: clock, logger: logger))
        }
        cache = TieredCache(
            configuration: .init(
                memoryMaxBytes: configuration.memory.maxBytes, memoryPolicy: configuration.memory.policy,
                memoryMaxEntryBytes: configuration.memory.maxEntryBytes, lowerTiers: lowerTiers),
            clock: clock, logger: logger)
        let upstream: CurlOriginClient? = origin == nil ? CurlOriginClient(clock: clock, logger: logger) : nil
        self.upstream = upstream
        accessLog = try configuration.accessLogPath.map { try AccessLogWriter(path: $0, logger: logger) }
        engine = ProxyEngine(
            configuration: .init(
                routes: RouteTable(configuration.routes), trustedProxies: configuration.trustedProxies,
                maxRequestBodyBytes: configuration.server.maxBodyBytes, maxVariants: configuration.limits.maxVariants,
                maxHitForMissKeys: configuration.limits.maxHitForMissKeys, maxPurgeRecords: configuration.limits.maxPurgeRecords,
                maxWaitersPerKey: configuration.limits.maxWaitersPerKey),
            cache: cache, origin: origin ?? upstream!, clock: clock, accessLog: accessLog, logger: logger)
        server = HTTPServer(configuration: configuration.server, responder: engine, group: self.group, logger: logger)
    }

    /// Binds the listener and starts L2's expiry sweep; returns the listener's address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let address = try await server.start()
        if let disk {
            sweeper.withLock { task in
                guard task == nil else { return }
                task = Task { await disk.run() }
            }
        }
        return address
    }

    /// The listener's port (after `start`).
    public var port: Int? { server.port }

    /// Graceful stop: no new connections, requests in flight finish, then the L2 sweep, the
    /// origin client, the tiers, the access log and the event loops stop.
    public func shutdown() async {
        await server.shutdown()
        // The sweep uses L2's threads: it ends before the tiers shut down.
        let sweep = sweeper.withLock { $0.take() }
        sweep?.cancel()
        await sweep?.value
        upstream?.shutdown()
        await cache.shutdown()
        await accessLog?.shutdown()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    /// Writes queued access-log records now (for tests and `SIGHUP`-style flushing).
    public func flushAccessLog() {
        accessLog?.flush()
    }
}
