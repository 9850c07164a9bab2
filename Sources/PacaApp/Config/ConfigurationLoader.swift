public import Foundation
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaRedis
import PacaServer
import PacaStorage

/// Reads and validates `routes.json`. Every refusal is a `ConfigurationError` naming the file,
/// the JSON path and the problem.
public enum ConfigurationLoader {
    /// Loads the file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> PacaConfiguration {
        try parse(readFile(path), file: path)
    }

    /// Parses a document; relative paths in it resolve against `file`'s directory.
    public static func parse(_ data: Data, file: String) throws(ConfigurationError) -> PacaConfiguration {
        let document = try parseJSON(data, file: file)
        let baseDirectory = (file as NSString).deletingLastPathComponent
        let root = try ObjectReader(file: file, path: "$", value: document)
        try root.allowOnly([
            "listen", "admin", "storage", "access_log", "prewarm", "routes", "server", "limits", "trusted_proxies", "alerts",
            "$schema", "comment",
        ])
        var warnings: [String] = []

        var server = HTTPServer.Configuration()
        var eventLoops: Int?
        let (host, port) = try address(root, "listen", default: ("127.0.0.1", 8080))
        server.host = host
        server.port = port
        if let limits = try root.object("server") {
            try limits.allowOnly([
                "max_header_bytes", "max_body_bytes", "idle_timeout", "max_pipelined_requests", "shutdown_grace", "event_loops",
                "max_connections", "request_head_timeout",
            ])
            eventLoops = try limits.integer("event_loops", range: 1...256)
            if let value = try limits.integer("max_connections", range: 1...1_000_000) { server.maxConnections = value }
            if let value = try limits.duration("request_head_timeout") { server.requestHeadTimeout = value }
            if let value = try limits.bytes("max_header_bytes") {
                guard (1024...(1 << 20)).contains(value) else { throw limits.error("max_header_bytes", "must be between 1KB and 1MB") }
                server.maxHeaderBytes = value
            }
            if let value = try limits.bytes("max_body_bytes") { server.maxBodyBytes = value }
            if let value = try limits.duration("idle_timeout") { server.idleTimeout = value }
            if let value = try limits.integer("max_pipelined_requests", range: 1...1024) { server.maxPipelinedRequests = value }
            if let value = try limits.duration("shutdown_grace") { server.shutdownGracePeriod = value }
        }

        var limits = PacaConfiguration.Limits()
        if let section = try root.object("limits") {
            try section.allowOnly(["max_hit_for_miss_keys", "max_purge_records", "max_variants", "max_waiters_per_key"])
            limits.maxHitForMissKeys = try section.integer("max_hit_for_miss_keys", range: 1...10_000_000) ?? limits.maxHitForMissKeys
            limits.maxPurgeRecords = try section.integer("max_purge_records", range: 1...10_000_000) ?? limits.maxPurgeRecords
            limits.maxVariants = try section.integer("max_variants", range: 1...1000) ?? limits.maxVariants
            limits.maxWaitersPerKey = try section.integer("max_waiters_per_key", range: 1...1_000_000) ?? limits.maxWaitersPerKey
        }

        var admin: PacaConfiguration.Admin?
        if let section = try root.object("admin") {
            try section.allowOnly(["listen", "token_env"])
            let (adminHost, adminPort) = try address(section, "listen", default: ("127.0.0.1", 9090))
            admin = .init(listen: "\(adminHost):\(adminPort)", tokenEnvironmentVariable: try section.nonEmptyString("token_env"))
        }

        var alerts = PacaConfiguration.Alerts()
        if let section = try root.object("alerts") {
            try section.allowOnly([
                "enabled", "window", "interval", "min_hit_ratio", "min_requests", "max_tier_usage", "max_origin_error_ratio",
                "min_origin_fetches",
            ])
            alerts.enabled = try section.bool("enabled") ?? alerts.enabled
            alerts.window = try section.duration("window") ?? alerts.window
            guard alerts.window >= .seconds(1) else { throw section.error("window", "must be at least 1s") }
            alerts.interval = try section.duration("interval") ?? alerts.interval
            guard alerts.interval >= .milliseconds(100) else { throw section.error("interval", "must be at least 100ms") }
            alerts.minimumHitRatio = try section.ratio("min_hit_ratio") ?? alerts.minimumHitRatio
            alerts.minimumRequests = try section.integer("min_requests", range: 1...1_000_000_000) ?? alerts.minimumRequests
            alerts.maximumTierUsage = try section.ratio("max_tier_usage") ?? alerts.maximumTierUsage
            alerts.maximumOriginErrorRatio = try section.ratio("max_origin_error_ratio") ?? alerts.maximumOriginErrorRatio
            alerts.minimumOriginFetches = try section.integer("min_origin_fetches", range: 1...1_000_000_000) ?? alerts.minimumOriginFetches
        }

        var memory = PacaConfiguration.MemoryTier()
        var disk: PacaConfiguration.DiskTier?
        var redis: PacaConfiguration.RedisTier?
        var encryption: PacaConfiguration.Encryption?
        if let storage = try root.object("storage") {
            try storage.allowOnly(["l1", "l2", "l3", "encryption"])
            if let section = try storage.object("encryption") {
                try section.allowOnly(["key_env", "key_id"])
                guard let variable = try section.nonEmptyString("key_env") else {
                    throw section.error("key_env", "is required: the environment variable holding the 32-byte key")
                }
                guard let keyID = try section.nonEmptyString("key_id") else {
                    throw section.error("key_id", "is required: a name for the key, written into every sealed entry")
                }
                guard keyID.utf8.count <= 255 else { throw section.error("key_id", "must be at most 255 bytes") }
                encryption = .init(keyEnvironmentVariable: variable, keyID: keyID)
            }
            if let l1 = try storage.object("l1") {
                try l1.allowOnly(["max_bytes", "policy", "max_entry_bytes", "sendfile_min_bytes", "sendfile_max_bytes"])
                if let value = try l1.bytes("max_bytes") {
                    guard value >= 1 << 20 else { throw l1.error("max_bytes", "must be at least 1MB") }
                    memory.maxBytes = value
                }
                if let name = try l1.string("policy") {
                    switch name.lowercased() {
                    case "lru": memory.policy = .lru
                    case "lfu": memory.policy = .lfu
                    case "fifo": memory.policy = .fifo
                    case "tinylfu", "w-tinylfu": memory.policy = .tinyLFU
                    default:
                        throw l1.error("policy", "expected one of lru, lfu, fifo, tinylfu, got \"\(name)\"")
                    }
                }
                memory.maxEntryBytes = try l1.bytes("max_entry_bytes")
                memory.sendfileMinBytes = try l1.bytes("sendfile_min_bytes") ?? memory.sendfileMinBytes
                memory.sendfileMaxBytes = try l1.bytes("sendfile_max_bytes")
            }
            if let l2 = try storage.object("l2") {
                try l2.allowOnly(["path", "max_bytes", "max_entry_bytes"])
                guard let path = try l2.nonEmptyString("path") else { throw l2.error("path", "is required") }
                let maxBytes = try l2.bytes("max_bytes") ?? 1 << 30
                let maxEntryBytes = try l2.bytes("max_entry_bytes") ?? min(maxBytes / 8, 4 << 30 - 1)
                guard maxEntryBytes <= maxBytes else { throw l2.error("max_entry_bytes", "must not exceed max_bytes") }
                guard maxEntryBytes < 4 << 30 else { throw l2.error("max_entry_bytes", "must be below 4GB (the L2 file format's limit)") }
                disk = .init(path: resolve(path, against: baseDirectory), maxBytes: maxBytes, maxEntryBytes: maxEntryBytes)
            }
            if let l3 = try storage.object("l3") {
                try l3.allowOnly([
                    "url", "cluster", "username", "namespace", "timeout", "password_env", "max_entry_bytes", "coalesce_lock",
                    "read_from_replicas",
                    "lock_timeout",
                ])
                let cluster = try l3.stringArray("cluster")
                let url = try l3.nonEmptyString("url")
                let username = try l3.nonEmptyString("username")
                if let cluster {
                    guard url == nil else { throw l3.error("cluster", "give either url (one server) or cluster (seed nodes), not both") }
                    guard !cluster.isEmpty else { throw l3.error("cluster", "must name at least one seed node (host:port)") }
                    for seed in cluster {
                        guard let node = RedisNodeAddress(parsing: seed), !node.host.isEmpty else {
                            throw l3.error("cluster", "'\(seed)' is not host:port")
                        }
                    }
                } else {
                    guard let url else { throw l3.error("url", "is required (or cluster: [host:port, ...])") }
                    guard username == nil else { throw l3.error("username", "belongs in the url (redis://user:password@host)") }
                    do {
                        _ = try RedisURL(parsing: url)
                    } catch {
                        throw l3.error("url", "\(error)")
                    }
                }
                redis = .init(
                    url: url ?? "", cluster: cluster, username: username, namespace: try l3.nonEmptyString("namespace") ?? "paca",
                    timeout: try l3.duration("timeout") ?? .milliseconds(50),
                    passwordEnvironmentVariable: try l3.nonEmptyString("password_env"),
                    maxEntryBytes: try l3.bytes("max_entry_bytes") ?? 1 << 20)
                redis?.coalesceLock = try l3.bool("coalesce_lock") ?? true
                if let replicas = try l3.bool("read_from_replicas") {
                    guard cluster != nil || !replicas else {
                        throw l3.error("read_from_replicas", "needs cluster (a single server has no replicas to read from)")
                    }
                    redis?.readFromReplicas = replicas
                }
                if let lockTimeout = try l3.duration("lock_timeout") {
                    guard lockTimeout >= .milliseconds(10), lockTimeout <= .seconds(60) else {
                        throw l3.error("lock_timeout", "must be between 10ms and 60s")
                    }
                    redis?.lockTimeout = lockTimeout
                }
            }
        }

        var accessLogPath: String?
        if let section = try root.object("access_log") {
            try section.allowOnly(["path", "enabled"])
            if try section.bool("enabled") ?? true, let path = try section.nonEmptyString("path") {
                accessLogPath = resolve(path, against: baseDirectory)
            }
        }

        var prewarm = PacaConfiguration.Prewarm()
        if let section = try root.object("prewarm") {
            try section.allowOnly([
                "enabled", "top", "interval", "max_rps", "max_concurrency", "min_probability", "followers", "follower_probability",
                "capacity", "model",
            ])
            prewarm.enabled = try section.bool("enabled") ?? false
            prewarm.top = try section.integer("top", range: 1...1_000_000) ?? prewarm.top
            prewarm.interval = try section.duration("interval") ?? prewarm.interval
            guard prewarm.interval >= .seconds(1) else { throw section.error("interval", "must be at least 1s") }
            prewarm.maxRequestsPerSecond = try section.integer("max_rps", range: 1...100_000) ?? prewarm.maxRequestsPerSecond
            prewarm.maxConcurrency = try section.integer("max_concurrency", range: 1...1024) ?? prewarm.maxConcurrency
            prewarm.minimumProbability = try section.ratio("min_probability") ?? prewarm.minimumProbability
            prewarm.followers = try section.bool("followers") ?? prewarm.followers
            prewarm.followerProbability = try section.ratio("follower_probability") ?? prewarm.followerProbability
            prewarm.capacity = try section.integer("capacity", range: 1...10_000_000) ?? prewarm.capacity
            prewarm.modelPath = try section.nonEmptyString("model").map { resolve($0, against: baseDirectory) }
        }

        let trusted = Set(try root.stringArray("trusted_proxies") ?? [])

        guard let routeValues = try root.array("routes") else { throw root.error("routes", "is required: list at least one route") }
        guard !routeValues.isEmpty else { throw root.error("routes", "must list at least one route") }
        var routes: [Route] = []
        var names: Set<String> = []
        for (index, value) in routeValues.enumerated() {
            let reader = try ObjectReader(file: file, path: "$.routes[\(index)]", value: value)
            let route = try parseRoute(reader, index: index)
            if route.encrypt, encryption == nil {
                throw reader.error("encrypt", "needs storage.encryption (key_env and key_id) to seal the route's entries")
            }
            guard names.insert(route.name).inserted else { throw reader.error("name", "duplicate route name \"\(route.name)\"") }
            if let earlier = routes.first(where: { shadows($0.match.pattern, route.match.pattern) }) {
                warnings.append(
                    "$.routes[\(index)] (\(route.name)): hidden by the earlier route \"\(earlier.name)\" (\(earlier.match.pattern))")
            }
            routes.append(route)
        }

        var configuration = PacaConfiguration(
            file: file, server: server, eventLoops: eventLoops, limits: limits, admin: admin, memory: memory, disk: disk, redis: redis,
            accessLogPath: accessLogPath,
            prewarm: prewarm, trustedProxies: trusted, routes: routes, warnings: warnings + advisories(routes: routes, redis: redis),
            alerts: alerts)
        configuration.encryption = encryption
        return configuration
    }

    static let routeFields: Set<String> = [
        "name", "match", "origin", "methods", "cache", "ttl", "ttl_source", "max_ttl", "key", "stale_while_revalidate",
        "stale_if_error", "connect_timeout", "timeout", "max_body_bytes", "forward_headers", "strip_cookies", "preserve_host",
        "forward",
        "ignore", "cache_status", "honor_client_no_cache", "honor_immutable", "convert_head", "encrypt", "comment",
        "cache_control_targets", "stale_if_unreachable", "store_post_responses",
    ]

    /// The methods `methods` accepts (RFC 9110 §9 and PATCH): an unknown name is far more often a
    /// typo (`GETT`) than an extension method, and a typo would answer 405 to every request.
    static let standardMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
    /// Registered extension methods (IANA's HTTP Method Registry: WebDAV, CalDAV, SSDP, cache
    /// purges): accepted so a route can list them; anything else is taken for a typo.
    static let extensionMethods: Set<String> = [
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "MKCALENDAR", "MKACTIVITY",
        "CHECKOUT", "CHECKIN", "MERGE", "LABEL", "UPDATE", "VERSION-CONTROL", "BASELINE-CONTROL", "MKWORKSPACE", "ORDERPATCH",
        "ACL", "BIND", "UNBIND", "REBIND", "LINK", "UNLINK", "UPDATEREDIRECTREF", "QUERY", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
        "UNSUBSCRIBE", "PURGE", "BAN",
    ]

    static func parseRoute(_ reader: ObjectReader, index: Int) throws(ConfigurationError) -> Route {
        try reader.allowOnly(routeFields)
        guard let match = try reader.nonEmptyString("match") else {
            throw reader.error("match", "is required (a path glob such as \"/api/*\")")
        }
        guard match.hasPrefix("/") else { throw reader.error("match", "must start with \"/\"") }
        guard let originText = try reader.nonEmptyString("origin") else {
            throw reader.error("origin", "is required (such as \"http://127.0.0.1:9000\")")
        }
        guard let origin = Origin(url: originText) else {
            throw reader.error("origin", "expected an http:// or https:// URL without query, got \"\(originText)\"")
        }
        let name = try reader.nonEmptyString("name") ?? "route\(index)"

        var methods: Set<String>?
        if let list = try reader.stringArray("methods") {
            let upper = list.map { $0.uppercased() }
            for method in upper where !standardMethods.contains(method) && !extensionMethods.contains(method) {
                throw reader.error(
                    "methods", "\"\(method)\" is not a standard HTTP method (expected one of \(standardMethods.joined(separator: ", ")))")
            }
            methods = Set(upper)
        }

        func seconds(_ key: String) throws(ConfigurationError) -> Int64? {
            try reader.duration(key).map { $0.milliseconds / 1000 }
        }
        var ttlSource = TTLSource.cacheControlFirst
        if let text = try reader.string("ttl_source") {
            guard let source = TTLSource(rawValue: text) else {
                throw reader.error(
                    "ttl_source", "expected one of \(TTLSource.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            ttlSource = source
        }
        let ttl = try seconds("ttl")
        if ttlSource == .routeOnly, ttl == nil { throw reader.error("ttl", "is required when ttl_source is route-only") }
        let policy = RoutePolicy(
            ttl: ttl, ttlSource: ttlSource, maxTTL: try seconds("max_ttl"),
            staleWhileRevalidate: try seconds("stale_while_revalidate"), staleIfError: try seconds("stale_if_error"),
            ignore: Set((try reader.stringArray("ignore") ?? []).map { $0.lowercased() }),
            maxBodyBytes: try reader.bytes("max_body_bytes") ?? .max,
            cacheControlTargets: try cacheControlTargets(reader), staleIfUnreachable: try seconds("stale_if_unreachable"))

        var keyQuery = QueryKeyRule.all
        var keyHeaders: [String] = []
        if let key = try reader.object("key") {
            try key.allowOnly(["query", "headers"])
            if let query = try key.object("query") {
                try query.allowOnly(["include", "exclude"])
                let include = try query.stringArray("include")
                let exclude = try query.stringArray("exclude")
                switch (include, exclude) {
                case (.some, .some): throw query.error(nil, "give either include or exclude, not both")
                case (.some(let names), nil): keyQuery = .include(Set(names))
                case (nil, .some(let names)): keyQuery = .exclude(Set(names))
                case (nil, nil): keyQuery = .all
                }
            }
            keyHeaders = try key.stringArray("headers") ?? []
        }

        var forward = ForwardMode.all
        if let text = try reader.string("forward") {
            guard let mode = ForwardMode(rawValue: text) else {
                throw reader.error(
                    "forward", "expected one of \(ForwardMode.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            forward = mode
        }

        return Route(
            name: name, match: match, origin: origin, methods: methods, cache: try reader.bool("cache") ?? true, policy: policy,
            keyQuery: keyQuery, keyHeaders: keyHeaders, forwardHeaders: try reader.stringArray("forward_headers") ?? [],
            stripCookies: try reader.bool("strip_cookies") ?? false, preserveHost: try reader.bool("preserve_host") ?? false,
            forward: forward, connectTimeout: try reader.duration("connect_timeout") ?? .seconds(5),
            timeout: try reader.duration("timeout") ?? .seconds(30),
            cacheStatus: try reader.bool("cache_status") ?? true, honorClientNoCache: try reader.bool("honor_client_no_cache") ?? true,
            honorImmutable: try reader.bool("honor_immutable") ?? true, convertHead: try reader.bool("convert_head") ?? true,
            encrypt: try reader.bool("encrypt") ?? false, storePostResponses: try reader.bool("store_post_responses") ?? false)
    }

    /// `cache_control_targets`: targeted field names (RFC 9213), lowercased, in priority order;
    /// default `paca-cache-control`, `cdn-cache-control`; `[]` turns targeted fields off.
    static func cacheControlTargets(_ reader: ObjectReader) throws(ConfigurationError) -> [String] {
        guard let names = try reader.stringArray("cache_control_targets") else { return TargetedCacheControl.defaultTargets }
        var seen: Set<String> = []
        var targets: [String] = []
        for name in names.map({ $0.lowercased() }) {
            guard name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !"\"(),/:;<=>?@[\\]{}".utf8.contains($0) }) else {
                throw reader.error("cache_control_targets", "\"\(name)\" is not a header field name")
            }
            guard name != "cache-control" else {
                throw reader.error(
                    "cache_control_targets", "list targeted fields only (such as \"cdn-cache-control\"); Cache-Control is the fallback")
            }
            if seen.insert(name).inserted { targets.append(name) }
        }
        return targets
    }

    /// `host:port`, `[v6]:port` or `:port`.
    static func address(_ reader: ObjectReader, _ key: String, default fallback: (String, Int)) throws(ConfigurationError) -> (String, Int)
    {
        guard let text = try reader.string(key) else { return fallback }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw reader.error(key, "expected host:port such as \"127.0.0.1:8080\", got \"\(text)\"")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") || base.isEmpty { return path }
        return (base as NSString).appendingPathComponent(path)
    }

    /// Whether every path matched by `later` is already matched by `earlier`.
    static func shadows(_ earlier: String, _ later: String) -> Bool {
        if earlier == later { return true }
        if earlier.hasSuffix("*"), !earlier.dropLast().contains("*") {
            return later.hasPrefix(earlier.dropLast())
        }
        return false
    }
}
