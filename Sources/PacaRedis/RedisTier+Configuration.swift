#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension RedisTier {
    /// How the L3 tier reaches Redis and how it behaves when Redis misbehaves.
    public struct Configuration: Sendable {
        /// The server, credentials and database. With `cluster`, only the credentials count (and
        /// the first seed, for logs).
        public var url: RedisURL
        /// Seed nodes of a Redis Cluster (`storage.l3.cluster`); `nil` (default) for one server.
        public var cluster: [RedisNodeAddress]?
        /// The variable the password was read from, if any (kept for diagnostics; never the value).
        public var passwordEnvironmentVariable: String?
        /// Prefix of every key: entries live under `<namespace>:e:<hash>`. Default `paca`.
        public var namespace: String
        /// Limit for connecting and for each command round trip. Default 50 ms: L3 is worth
        /// asking only while it is much faster than the origin.
        public var timeout: Duration
        /// Connections, each owned by its own thread. Default 4.
        public var poolSize: Int
        /// Encoded entries larger than this are not sent to Redis. Default 1 MiB.
        public var maxEntryBytes: Int
        /// Consecutive failures (timeouts, connection errors) that open the breaker. Default 5.
        public var failureThreshold: Int
        /// How long an open breaker skips L3 before one probe is let through. Default 5 s.
        public var openDuration: Duration
        /// Jobs waiting for a connection beyond this are dropped (a miss or a skipped write) rather
        /// than queued behind a slow server. Default 1024.
        public var maxQueuedJobs: Int
        /// With `cluster`: lookups go to a replica of the slot's master (`READONLY`), writes to the
        /// master; a replica that fails sends its reads back to the master. Default off.
        public var readFromReplicas: Bool = false

        /// Creates a configuration from a parsed URL; every other setting has the default above.
        public init(
            url: RedisURL,
            namespace: String = "paca",
            timeout: Duration = .milliseconds(50),
            poolSize: Int = 4,
            maxEntryBytes: Int = 1 << 20,
            failureThreshold: Int = 5,
            openDuration: Duration = .seconds(5),
            maxQueuedJobs: Int = 1024
        ) {
            self.url = url
            self.cluster = nil
            self.passwordEnvironmentVariable = nil
            self.namespace = namespace
            self.timeout = timeout
            self.poolSize = max(1, poolSize)
            self.maxEntryBytes = maxEntryBytes
            self.failureThreshold = max(1, failureThreshold)
            self.openDuration = openDuration
            self.maxQueuedJobs = max(1, maxQueuedJobs)
        }

        /// Parses `url` (`redis://[:password@]host[:port][/db]`). When
        /// `passwordEnvironmentVariable` is given, the password comes from that variable (looked
        /// up with `environment`, default the process environment) and replaces any in the URL;
        /// an unset variable is an error, so a typo never silently connects without a password.
        public init(
            url: String,
            passwordEnvironmentVariable: String? = nil,
            namespace: String = "paca",
            timeout: Duration = .milliseconds(50),
            poolSize: Int = 4,
            maxEntryBytes: Int = 1 << 20,
            failureThreshold: Int = 5,
            openDuration: Duration = .seconds(5),
            maxQueuedJobs: Int = 1024,
            environment: (String) -> String? = Configuration.processEnvironment
        ) throws(RedisURLError) {
            var parsed = try RedisURL(parsing: url)
            if let passwordEnvironmentVariable {
                guard let password = environment(passwordEnvironmentVariable) else {
                    throw .passwordEnvironmentVariableUnset(passwordEnvironmentVariable)
                }
                parsed.password = password.isEmpty ? nil : password
            }
            self.init(
                url: parsed, namespace: namespace, timeout: timeout, poolSize: poolSize, maxEntryBytes: maxEntryBytes,
                failureThreshold: failureThreshold, openDuration: openDuration, maxQueuedJobs: maxQueuedJobs)
            self.passwordEnvironmentVariable = passwordEnvironmentVariable
        }

        /// A Redis Cluster reached through `seeds` (`host:port` each): the slot map is learned from
        /// them, every master is asked with the same credentials (`username`, and the password read
        /// from `passwordEnvironmentVariable`, as for one server). Other settings as above.
        public init(
            cluster seeds: [String],
            username: String? = nil,
            passwordEnvironmentVariable: String? = nil,
            namespace: String = "paca",
            timeout: Duration = .milliseconds(50),
            poolSize: Int = 4,
            maxEntryBytes: Int = 1 << 20,
            failureThreshold: Int = 5,
            openDuration: Duration = .seconds(5),
            maxQueuedJobs: Int = 1024,
            readFromReplicas: Bool = false,
            environment: (String) -> String? = Configuration.processEnvironment
        ) throws(RedisURLError) {
            var nodes: [RedisNodeAddress] = []
            for seed in seeds {
                guard let node = RedisNodeAddress(parsing: seed), !node.host.isEmpty else { throw .invalidHost(seed) }
                nodes.append(node)
            }
            guard let first = nodes.first else { throw .missingHost }
            var password: String?
            if let passwordEnvironmentVariable {
                guard let value = environment(passwordEnvironmentVariable) else {
                    throw .passwordEnvironmentVariableUnset(passwordEnvironmentVariable)
                }
                password = value.isEmpty ? nil : value
            }
            self.init(
                url: RedisURL(host: first.host, port: first.port, username: username, password: password), namespace: namespace,
                timeout: timeout, poolSize: poolSize, maxEntryBytes: maxEntryBytes, failureThreshold: failureThreshold,
                openDuration: openDuration, maxQueuedJobs: maxQueuedJobs)
            self.cluster = nodes
            self.passwordEnvironmentVariable = passwordEnvironmentVariable
            self.readFromReplicas = readFromReplicas
        }

        /// Reads a variable from the process environment.
        public static func processEnvironment(_ name: String) -> String? {
            getenv(name).map { String(cString: $0) }
        }
    }
}
