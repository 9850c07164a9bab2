import Foundation
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaRedis

/// What `paca check-config` prints: the effective settings of every tier and route, so an
/// operator sees what the proxy will do without reading the defaults table. Never shows a
/// password (the Redis URL is redacted).
public enum ConfigurationSummary {
    /// The lines to print, warnings last.
    public static func lines(_ configuration: PacaConfiguration) -> [String] {
        let server = configuration.server
        var lines = ["\(configuration.file): ok — listen \(server.host):\(server.port)"]
        let memory = configuration.memory
        lines.append(
            "  L1 memory: \(HumanUnits.formatBytes(memory.maxBytes)) \(memory.policy.rawValue)"
                + (memory.maxEntryBytes.map { ", entries up to \(HumanUnits.formatBytes($0))" } ?? ""))
        if let disk = configuration.disk {
            lines.append(
                "  L2 disk: \(disk.path), \(HumanUnits.formatBytes(disk.maxBytes)), entries up to \(HumanUnits.formatBytes(disk.maxEntryBytes))"
            )
        } else {
            lines.append("  L2 disk: off")
        }
        if let redis = configuration.redis {
            let server = redis.cluster.map { "cluster \($0.joined(separator: ", "))" } ?? redactedRedisURL(redis.url)
            var line = "  L3 Redis: \(server), namespace \(redis.namespace), timeout \(redis.timeout.milliseconds)ms"
            line += ", entries up to \(HumanUnits.formatBytes(redis.maxEntryBytes))"
            if let variable = redis.passwordEnvironmentVariable { line += ", password from $\(variable)" }
            if redis.readFromReplicas { line += ", reads from replicas" }
            line +=
                redis.coalesceLock
                ? ", misses coalesced across nodes (lock timeout \(redis.lockTimeout.milliseconds)ms)"
                : ", misses coalesced per node only (coalesce_lock off)"
            lines.append(line)
        } else {
            lines.append("  L3 Redis: off")
        }
        if let admin = configuration.admin { lines.append("  admin: \(admin.listen)") }
        if let log = configuration.accessLogPath { lines.append("  access log: \(log)") }
        let prewarm = configuration.prewarm
        if prewarm.enabled {
            lines.append(
                "  prewarm: top \(prewarm.top), every \(prewarm.interval.milliseconds / 1000)s, at most \(prewarm.maxRequestsPerSecond)/s and "
                    + "\(prewarm.maxConcurrency) at once, min probability \(prewarm.minimumProbability), followers "
                    + (prewarm.followers ? "on (\(prewarm.followerProbability))" : "off") + ", model "
                    + (ProxyApplication.warmingModelPath(configuration) ?? "not saved"))
        } else {
            lines.append("  prewarm: off")
        }
        lines.append("  routes:")
        for route in configuration.routes { lines.append(contentsOf: describe(route)) }
        lines.append(contentsOf: configuration.warnings.map { "  warning: \($0)" })
        return lines
    }

    /// One route: where it goes, its freshness rules, its key rules.
    static func describe(_ route: Route) -> [String] {
        let policy = route.policy
        let methods = route.methods.map { $0.sorted().joined(separator: ",") } ?? "all"
        var freshness = [
            "ttl=\(seconds(policy.ttl))", "ttl_source=\(policy.ttlSource.rawValue)", "max_ttl=\(seconds(policy.maxTTL))",
            "stale_while_revalidate=\(seconds(policy.staleWhileRevalidate))", "stale_if_error=\(seconds(policy.staleIfError))",
            "stale_if_unreachable=\(seconds(policy.staleIfUnreachable))",
            "cache_control_targets=\(policy.cacheControlTargets.isEmpty ? "none" : policy.cacheControlTargets.joined(separator: ","))",
        ]
        if !route.cache { freshness = ["cache=false (pass-through)"] }
        let query: String
        switch route.keyQuery {
        case .all: query = "all"
        case .include(let names): query = "only \(names.sorted().joined(separator: ","))"
        case .exclude(let names): query = "all but \(names.sorted().joined(separator: ","))"
        }
        var key = ["query=\(query)", "headers=\(route.keyHeaders.isEmpty ? "none" : route.keyHeaders.joined(separator: ","))"]
        if !route.forwardHeaders.isEmpty { key.append("forward_headers=\(route.forwardHeaders.joined(separator: ","))") }
        if route.preserveHost { key.append("host=client") }
        if route.stripCookies { key.append("strip_cookies") }
        return [
            "    \(route.name): \(route.match.pattern) -> \(route.origin.schemeAndAuthority)\(route.origin.basePath)  methods=\(methods)",
            "      \(freshness.joined(separator: " "))",
            "      key: \(key.joined(separator: " "))",
        ]
    }

    /// `redis://:***@host:port/db`: the URL as RedisURL prints it, never with its password.
    static func redactedRedisURL(_ url: String) -> String {
        (try? RedisURL(parsing: url))?.description ?? "(unparsable URL)"
    }

    static func seconds(_ value: Int64?) -> String {
        value.map { "\($0)s" } ?? "none"
    }
}

extension ConfigurationLoader {
    /// Things that do not stop a start but are probably mistakes: a `max_ttl` below the route's
    /// `ttl` (the `ttl` can never apply in full), an L3 `password_env` naming a variable that
    /// is not set (the proxy would refuse to start). `environment` looks variables up (default:
    /// the process environment).
    static func advisories(
        routes: [Route], redis: PacaConfiguration.RedisTier?,
        environment: (String) -> String? = { ProcessInfo.processInfo.environment[$0] }
    ) -> [String] {
        var warnings: [String] = []
        for (index, route) in routes.enumerated() {
            if let ttl = route.policy.ttl, let maxTTL = route.policy.maxTTL, maxTTL < ttl {
                warnings.append(
                    "$.routes[\(index)] (\(route.name)): max_ttl (\(maxTTL)s) is below ttl (\(ttl)s), so entries live at most \(maxTTL)s"
                )
            }
        }
        if let variable = redis?.passwordEnvironmentVariable, environment(variable) == nil {
            warnings.append("$.storage.l3.password_env: the environment variable \(variable) is not set; paca serve will refuse to start")
        }
        return warnings
    }
}
