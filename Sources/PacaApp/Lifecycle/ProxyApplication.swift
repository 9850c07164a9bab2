import Foundation
public import Logging
public import NIOCore
import NIOPosix
import PacaAccessLog
public import PacaAdmin
public import PacaCore
public import PacaEngine
import PacaRedis
import PacaSealing
import PacaServer
public import PacaStorage
public import PacaUpstream
public import PacaWarming
import Synchronization

/// `paca serve`: wires configuration, L1, the origin client, the access log, the engine and the
/// listener together, and takes them down in reverse order.
public final class ProxyApplication: Sendable {
    /// The configuration the application started with.
    public let configuration: PacaConfiguration
    /// The configuration in force (after reloads).
    private let current: ConfigurationState
    /// The admin API, when `admin` is configured.
    private let adminServer: HTTPServer?
    private let admin: ApplicationAdmin?
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
    /// Shares bans through L3, when there is one.
    private let banSync: BanSync?
    /// The task running `banSync.run`.
    private let banSyncTask = Mutex<Task<Void, Never>?>(nil)
    /// Re-reads the configuration file (`POST /reload`, `SIGHUP`, a broadcast).
    let reloader: Reloader
    /// Shares reload broadcasts through L3, when there is one.
    private let reloadSync: ReloadSync?
    /// The task running `reloadSync.run`.
    private let reloadSyncTask = Mutex<Task<Void, Never>?>(nil)
    /// `/stats`, `/metrics` and the alerts.
    let telemetry: Telemetry
    /// The task that evaluates alerts every `alerts.interval`, from `start()` to `shutdown()`.
    private let alertMonitor = Mutex<Task<Void, Never>?>(nil)
    private let alertClock: any Clock<Duration>
    private let upstream: CurlOriginClient?
    /// The libcurl origin client, unless the application was given another one.
    public var originClient: CurlOriginClient? { upstream }
    private let accessLog: AccessLogWriter?
    /// Keeps the hot set warm, when `prewarm.enabled`.
    public let prewarmer: Prewarmer?
    /// L3, when configured: probed once by `start()`.
    private let redis: RedisTier?
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let logger: Logger

    /// Builds the application. `origin` and `clock` replace the real ones in tests, and
    /// `sweepClock` the clock that paces L2's expiry sweep (default `ContinuousClock`); `group`
    /// defaults to one event loop per core. `environment` reads the variables the configuration
    /// names (the encryption key, the Redis password, the admin token), default (`nil`) the
    /// process's environment.
    public init(
        configuration: PacaConfiguration,
        group: (any EventLoopGroup)? = nil,
        origin: (any OriginClient)? = nil,
        clock: any WallClock = SystemWallClock(),
        sweepClock: any Clock<Duration> = ContinuousClock(),
        prewarmClock: any Clock<Duration> = ContinuousClock(),
        environment: ((String) -> String?)? = nil,
        logger: Logger = Logger(label: "paca")
    ) throws {
        self.configuration = configuration
        self.alertClock = ContinuousClock()
        self.current = ConfigurationState(configuration)
        self.logger = logger
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops ?? ProcessorAffinity.usableProcessors())
            self.ownsGroup = true
        }
        // Every secret the configuration names (key, Redis password, admin token) is read here.
        let environment = environment ?? RedisTier.Configuration.processEnvironment
        let sealer = try Self.sealer(configuration.encryption, environment: environment)
        var lowerTiers: [any CacheTier] = []
        var redisTier: RedisTier?
        disk = try configuration.disk.map { settings in
            try DiskCache(
                directory: settings.path, maxBytes: settings.maxBytes, maxEntryBytes: settings.maxEntryBytes, clock: clock,
                sweepClock: sweepClock, sealer: sealer, logger: logger)
        }
        if let disk { lowerTiers.append(disk) }
        var breakerState: (@Sendable () -> String)?
        if let redis = configuration.redis {
            let settings =
                try redis.cluster.map { seeds in
                    try RedisTier.Configuration(
                        cluster: seeds, username: redis.username, passwordEnvironmentVariable: redis.passwordEnvironmentVariable,
                        namespace: redis.namespace, timeout: redis.timeout, maxEntryBytes: redis.maxEntryBytes,
                        readFromReplicas: redis.readFromReplicas, environment: environment)
                }
                ?? RedisTier.Configuration(
                    url: redis.url, passwordEnvironmentVariable: redis.passwordEnvironmentVariable, namespace: redis.namespace,
                    timeout: redis.timeout, maxEntryBytes: redis.maxEntryBytes)
            let tier = RedisTier(configuration: settings, clock: clock, sealer: sealer, logger: logger)
            breakerState = { tier.breakerState }
            redisTier = tier
            self.redis = tier
            lowerTiers.append(tier)
        } else {
            self.redis = nil
        }
        cache = TieredCache(
            configuration: .init(
                memoryMaxBytes: configuration.memory.maxBytes, memoryPolicy: configuration.memory.policy,
                memoryMaxEntryBytes: configuration.memory.maxEntryBytes, lowerTiers: lowerTiers),
            clock: clock, logger: logger)
        let upstream: CurlOriginClient? = origin == nil ? CurlOriginClient(clock: clock, logger: logger) : nil
        self.upstream = upstream
        // The prewarmer learns from the access records, so with prewarming on there is a writer
        // even without a log file.
        accessLog =
            configuration.accessLogPath != nil || configuration.prewarm.enabled
            ? try AccessLogWriter(path: configuration.accessLogPath, logger: logger) : nil
        engine = ProxyEngine(
            configuration: .init(
                routes: RouteTable(configuration.routes), trustedProxies: configuration.trustedProxies,
                maxRequestBodyBytes: configuration.server.maxBodyBytes, maxVariants: configuration.limits.maxVariants,
                maxHitForMissKeys: configuration.limits.maxHitForMissKeys, maxPurgeRecords: configuration.limits.maxPurgeRecords,
                maxWaitersPerKey: configuration.limits.maxWaitersPerKey,
                sendfile: Self.sendfilePolicy(
                    configuration.memory.sendfile, loops: configuration.eventLoops ?? ProcessorAffinity.usableProcessors())),
            cache: cache, origin: origin ?? upstream!, clock: clock, accessLog: accessLog,
            sharedFillLock: configuration.redis.flatMap { settings in
                guard settings.coalesceLock, let redisTier else { return nil }
                return RedisFillLock(tier: redisTier, lockTimeout: settings.lockTimeout)
            },
            logger: logger)
        server = HTTPServer(configuration: configuration.server, responder: engine, group: self.group, logger: logger)
        let prewarmer = Self.makePrewarmer(
            configuration, engine: engine, memory: cache.memory, group: self.group, clock: clock, sleepClock: prewarmClock, logger: logger)
        self.prewarmer = prewarmer
        if let prewarmer { accessLog?.setTap { prewarmer.observe($0) } }
        if let redisTier {
            let sync = BanSync(redis: redisTier, engine: engine, clock: clock, logger: logger)
            banSync = sync
            engine.setBanPublisher { ban in sync.publishInBackground(ban) }
        } else {
            banSync = nil
        }
        let reloadCounters = ReloadCounters()
        let reloader = Reloader(file: configuration.file, state: current, engine: engine, counters: reloadCounters)
        self.reloader = reloader
        let reloadSync = redisTier.map { ReloadSync(redis: $0, reloader: reloader, logger: logger) }
        self.reloadSync = reloadSync
        let telemetry = Telemetry(
            engine: engine, cache: cache, memoryBudget: configuration.memory.maxBytes, diskBudget: disk?.maxBytes,
            breakerState: breakerState, alertThresholds: configuration.alerts, prewarmer: prewarmer, accessLog: accessLog,
            reloads: reloadCounters,
            clock: clock, logger: logger)
        self.telemetry = telemetry
        if let settings = configuration.admin {
            let (host, port) = Self.split(settings.listen)
            var token: String?
            if let variable = settings.tokenEnvironmentVariable {
                guard let value = environment(variable), !value.isEmpty else {
                    throw ApplicationError.adminToken("admin.token_env names \(variable), which is not set")
                }
                token = value
            }
            let security: AdminSecurity
            do {
                security = try AdminSecurity(token: token, listenHost: host, port: port)
            } catch {
                throw ApplicationError.adminToken(error.description)
            }
            let engine = self.engine
            let current = self.current
            let admin = ApplicationAdmin(
                telemetry: telemetry,
                purge: { [banSync] body in
                    let result = await Self.purge(body, engine: engine)
                    // The answer means the ban is in the shared set: other nodes will apply it.
                    await banSync?.waitUntilPublished()
                    return result
                }, reload: { body in await Self.reload(body, reloader: reloader, broadcast: reloadSync) },
                routes: { Self.routesJSON(current.value) },
                prewarmStatus: { Self.prewarmStatus(prewarmer) },
                prewarm: { body in Self.prewarm(body, prewarmer: prewarmer, engine: engine) })
            self.admin = admin
            var adminConfiguration = HTTPServer.Configuration(host: host, port: port, maxBodyBytes: AdminResponder.maxBodyBytes)
            adminConfiguration.maxConnections = 256
            adminServer = HTTPServer(
                configuration: adminConfiguration, responder: AdminResponder(security: security, backend: admin), group: self.group,
                logger: logger)
        } else {
            admin = nil
            adminServer = nil
        }
    }

    /// Re-reads the configuration file and swaps in its routes (`POST /reload`, `SIGHUP`).
    public func reload() -> Result<String, AdminError> {
        reloader.reload()
    }

    /// Reads the reload generation other nodes announced through L3 and, when it grew, re-reads
    /// this node's configuration file now (it also happens every second); returns whether it
    /// did. For tests.
    @discardableResult
    public func syncReloads() async -> Bool {
        await reloadSync?.sync() ?? false
    }

    /// The configuration in force (the start-up one until a reload swaps it).
    public var currentConfiguration: PacaConfiguration { current.value }

    /// Reads the bans other nodes made since the last read and applies them now (it also
    /// happens every second); returns how many were new. For tests and `SIGHUP`.
    @discardableResult
    public func syncBans() async -> Int {
        await banSync?.sync() ?? 0
    }

    /// Returns once the bans made here have been written to the shared set (L3).
    public func waitUntilBansShared() async {
        await banSync?.waitUntilPublished()
    }

    /// The admin listener's port (after `start`), when there is one.
    public var adminPort: Int? { adminServer?.port }

    /// The AES-GCM sealer of `storage.encryption`, its key read from the environment variable
    /// it names; a missing or malformed key stops the start (never a silent plaintext store).
    /// The configured `sendfile` policy, with at most an eighth of the descriptor limit for its
    /// mirrors (each holds one, plus one per event loop that sent it).
    public static func sendfilePolicy(_ configured: ProxyEngine.Configuration.Sendfile, loops: Int) -> ProxyEngine.Configuration.Sendfile {
        var policy = configured
        policy.maxFiles = min(policy.maxFiles, DescriptorLimit.current / (8 * (loops + 1)))
        return policy
    }

    static func sealer(_ encryption: PacaConfiguration.Encryption?, environment: (String) -> String?) throws -> (any EntrySealer)? {
        guard let encryption else { return nil }
        let variable = encryption.keyEnvironmentVariable
        guard let text = environment(variable), !text.isEmpty else {
            throw ApplicationError.encryptionKey(
                "storage.encryption.key_env names \(variable), which is not set: give it a 32-byte key as 64 hex digits or base64")
        }
        do {
            return try AESGCMSealer(keyID: encryption.keyID, text: text)
        } catch {
            throw ApplicationError.encryptionKey("storage.encryption.key_env: \(variable) is not a usable key: \(error)")
        }
    }

    /// `host:port` → its parts.
    static func split(_ listen: String) -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else { return (listen, 9090) }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    /// Binds the listener and starts L2's expiry sweep; returns the listener's address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let address = try await server.start()
        if let adminServer { try await adminServer.start() }
        if let redis { await Self.probe(redis, logger: logger) }
        if let banSync {
            banSyncTask.withLock { task in
                guard task == nil else { return }
                task = Task { await banSync.run(interval: .seconds(1)) }
            }
        }
        if let reloadSync {
            reloadSyncTask.withLock { task in
                guard task == nil else { return }
                task = Task { await reloadSync.run(interval: .seconds(1)) }
            }
        }
        if let prewarmer {
            let read = await Self.seed(prewarmer, configuration: configuration, routes: engine.routeTable, logger: logger)
            if read > 0 { logger.info("prewarm: model fed from logs", metadata: ["requests": "\(read)"]) }
            prewarmer.start()
        }
        if let disk {
            sweeper.withLock { task in
                guard task == nil else { return }
                task = Task { await disk.run() }
            }
        }
        if configuration.alerts.enabled {
            let telemetry = self.telemetry
            let clock = alertClock
            let interval = configuration.alerts.interval
            alertMonitor.withLock { task in
                guard task == nil else { return }
                task = Task {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: interval) } catch { return }
                        await telemetry.evaluateAlerts()
                    }
                }
            }
        }
        return address
    }

    /// The listener's port (after `start`).
    public var port: Int? { server.port }

    /// Graceful stop: no new connections, requests in flight finish, then the L2 sweep, the
    /// origin client, the tiers, the access log and the event loops stop.
    public func shutdown() async {
        // Load balancers see 503 on /healthz while requests in flight finish.
        admin?.startDraining()
        await server.shutdown()
        await adminServer?.shutdown()
        await prewarmer?.shutdown()
        let syncTask = banSyncTask.withLock { $0.take() }
        syncTask?.cancel()
        await syncTask?.value
        let reloadTask = reloadSyncTask.withLock { $0.take() }
        reloadTask?.cancel()
        await reloadTask?.value
        // The sweep uses L2's threads: it ends before the tiers shut down.
        let monitor = alertMonitor.withLock { $0.take() }
        monitor?.cancel()
        await monitor?.value
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

    /// Reopens the access log at its configured path (`SIGUSR1`, as nginx does, for
    /// `logrotate`): records queued before the call go to the old file, later ones to the new
    /// one. Throws when the path cannot be opened; the old file then stays in use.
    public func reopenAccessLog() throws {
        try accessLog?.reopen()
    }
}
