public import PacaEngine
import PacaHTTPCaching
public import PacaServer
public import PacaStorage

/// Everything `routes.json` says, resolved and validated (DESIGN.md §1, "routes.json").
public struct PacaConfiguration: Sendable {
    /// Bounds on the engine's tables that grow with traffic (`limits`): the memories of keys
    /// forget their least recently used key when full, the variants of a URL their oldest.
    public struct Limits: Sendable, Equatable {
        /// Keys remembered as hit-for-miss. Default 10,000.
        public var maxHitForMissKeys = 10_000
        /// Purge times remembered, so that a fill sent before a purge is not stored. Default
        /// 100,000.
        public var maxPurgeRecords = 100_000
        /// Variants kept per URL; a new one past it removes the oldest. Default 16.
        public var maxVariants = 16
        /// Requests waiting on one key's fill; past it a request fetches alone. Default 10,000.
        public var maxWaitersPerKey = 10_000
    }

    /// The admin listener (`admin`).
    public struct Admin: Sendable, Equatable {
        /// `host:port`. Default `127.0.0.1:9090`.
        public var listen: String
        /// The environment variable holding the bearer token, if any.
        public var tokenEnvironmentVariable: String?
    }

    /// The memory tier (`storage.l1`).
    public struct MemoryTier: Sendable, Equatable {
        /// Budget. Default 100 MB.
        public var maxBytes: Int = 100 << 20
        /// Eviction and admission policy. Default W-TinyLFU.
        public var policy: EvictionPolicy = .tinyLFU
        /// Largest entry admitted; default an eighth of a shard's budget.
        public var maxEntryBytes: Int?
        /// Smallest body an L1 hit sends with `sendfile` from an in-memory mirror; `0` turns it
        /// off. Default 128 KB.
        public var sendfileMinBytes: Int = 128 << 10
        /// Most bytes the mirrors hold together, on top of `maxBytes`; default a quarter of
        /// `maxBytes`.
        public var sendfileMaxBytes: Int?

        /// The engine's policy for these settings.
        public var sendfile: ProxyEngine.Configuration.Sendfile {
            .init(minBodyBytes: sendfileMinBytes, maxBytes: sendfileMaxBytes ?? maxBytes / 4)
        }
    }

    /// The disk tier (`storage.l2`).
    public struct DiskTier: Sendable, Equatable {
        /// Directory, resolved against the config file's directory.
        public var path: String
        /// Budget. Default 1 GB.
        public var maxBytes: Int
        /// Largest entry written to L2 (a larger answer streams through uncached). Default an
        /// eighth of `maxBytes`, so one object cannot push out most of the cache.
        public var maxEntryBytes: Int
    }

    /// The Redis tier (`storage.l3`).
    public struct RedisTier: Sendable, Equatable {
        /// `redis://[:password@]host[:port][/db]`; empty with `cluster`.
        public var url: String
        /// Seed nodes (`host:port`) of a Redis Cluster (`storage.l3.cluster`), instead of `url`.
        public var cluster: [String]? = nil
        /// ACL user name for a cluster (`storage.l3.username`); with `url` it is part of the URL.
        public var username: String? = nil
        /// Key namespace. Default `paca`.
        public var namespace: String
        /// Connect and command timeout. Default 50 ms.
        public var timeout: Duration
        /// Environment variable holding the password, if any.
        public var passwordEnvironmentVariable: String?
        /// Largest entry sent to Redis. Default 1 MiB.
        public var maxEntryBytes: Int
        /// Coalesce misses across the nodes sharing this Redis with a short lock
        /// (`storage.l3.coalesce_lock`). Default on.
        public var coalesceLock: Bool = true
        /// The lock's expiry and the longest a node waits on another's fill
        /// (`storage.l3.lock_timeout`). Default 3 s.
        public var lockTimeout: Duration = .seconds(3)
        /// With `cluster`: lookups go to replicas (`storage.l3.read_from_replicas`). Default off.
        public var readFromReplicas: Bool = false
    }

    /// Encryption at rest (`storage.encryption`): the key that seals the L2 and L3 entries of
    /// routes with `encrypt: true`.
    public struct Encryption: Sendable, Equatable {
        /// The environment variable holding the 32-byte key (64 hex digits or base64); read at
        /// start-up, never stored in the configuration.
        public var keyEnvironmentVariable: String
        /// The id written into every sealed entry; a new key needs a new id, so that entries
        /// sealed with the old one are misses.
        public var keyID: String

        /// Creates the settings.
        public init(keyEnvironmentVariable: String, keyID: String) {
            self.keyEnvironmentVariable = keyEnvironmentVariable
            self.keyID = keyID
        }
    }

    /// The prewarmer (`prewarm`).
    public struct Prewarm: Sendable, Equatable {
        /// Warm at all. Default off.
        public var enabled = false
        /// Keys warmed at start-up and considered per predictive pass. Default 1000.
        public var top = 1000
        /// Time between predictive passes. Default 60 s.
        public var interval: Duration = .seconds(60)
        /// Warming requests per second to the origins, all routes together. Default 20.
        public var maxRequestsPerSecond = 20
        /// Warming requests in flight at once. Default 2.
        public var maxConcurrency = 2
        /// The chance of a request within an entry's lifetime needed to warm or refresh it.
        /// Default 0.9.
        public var minimumProbability = 0.9
        /// Prefetch the URLs that usually follow a requested one. Default on.
        public var followers = true
        /// The chance of following needed to prefetch. Default 0.5.
        public var followerProbability = 0.5
        /// Keys the model tracks (its memory bound, about 1 KB each). Default 10,000.
        public var capacity = 10_000
        /// Where the model is saved; default beside L2's directory (`<l2>.warming-model.json`),
        /// else beside the access log, else nowhere.
        public var modelPath: String?
        /// Logs read at start-up into the model (`paca serve --from`), oldest first.
        public var seedLogs: [String] = []
    }

    /// The configuration file, as given.
    public var file: String
    /// Listener settings (address, limits, timeouts).
    public var server: HTTPServer.Configuration
    /// Event-loop threads; `nil` is one per core the process may run on.
    public var eventLoops: Int?
    /// Bounds on the engine's per-key memories.
    public var limits: Limits
    /// The admin listener, when configured.
    public var admin: Admin?
    /// L1.
    public var memory: MemoryTier
    /// L2, when configured.
    public var disk: DiskTier?
    /// L3, when configured.
    public var redis: RedisTier?
    /// Encryption at rest, when configured (required by any route with `encrypt: true`).
    public var encryption: Encryption? = nil
    /// Access-log path, when logging is on.
    public var accessLogPath: String?
    /// Prewarming.
    public var prewarm: Prewarm
    /// Peers whose `X-Forwarded-For` is trusted.
    public var trustedProxies: Set<String>
    /// The routes, in order.
    public var routes: [Route]
    /// Things worth telling the operator that do not stop the start (shadowed routes, features
    /// not yet available).
    public var warnings: [String]
    /// Alert thresholds (`alerts`).
    public var alerts = Alerts()

    /// When the alert monitor raises an alert (`alerts` in `routes.json`). A condition is judged
    /// over the last `window` of traffic.
    public struct Alerts: Sendable, Equatable {
        /// Evaluate and log alerts at all. Default on.
        public var enabled = true
        /// The span over which ratios are computed. Default 5 minutes.
        public var window: Duration = .seconds(300)
        /// How often the monitor evaluates (and logs changes). Default 10 s.
        public var interval: Duration = .seconds(10)
        /// Alert when the hit ratio over the window falls below this. Default 0.70.
        public var minimumHitRatio = 0.70
        /// ...but only once the window holds at least this many cacheable lookups. Default 100.
        public var minimumRequests = 100
        /// Alert when L1 or L2 holds more than this share of its budget. Default 0.80.
        public var maximumTierUsage = 0.80
        /// Alert when origin failures exceed this share of origin fetches over the window.
        /// Default 0.05.
        public var maximumOriginErrorRatio = 0.05
        /// ...but only once the window holds at least this many fetches. Default 20.
        public var minimumOriginFetches = 20

        /// The defaults.
        public init() {}
    }
}
