import Foundation
import PacaApp
import PacaEngine
import PacaHTTPCaching
import PacaServer
import PacaStorage
import Testing

/// The repository's root: this file is `Tests/PacaAppTests/ConfigurationLoaderTests.swift`.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func load(_ json: String, file: String = "/etc/paca/routes.json") throws(ConfigurationError) -> PacaConfiguration {
    try ConfigurationLoader.parse(Data(json.utf8), file: file)
}

/// The smallest valid route, with `extra` fields spliced in.
private func minimalRoute(_ extra: String = "") -> String {
    #"{"match": "/*", "origin": "http://127.0.0.1:9000"\#(extra.isEmpty ? "" : ", " + extra)}"#
}

@Suite("ConfigurationLoader")
struct ConfigurationLoaderTests {
    @Test("the sample routes.json loads")
    func sampleLoads() throws {
        let path = repositoryRoot.appendingPathComponent("routes.json").path
        let data = try #require(FileManager.default.contents(atPath: path))
        let config = try ConfigurationLoader.parse(data, file: path)
        #expect(config.file == path)
        #expect(config.server.host == "127.0.0.1")
        #expect(config.server.port == 8080)
        #expect(config.memory.maxBytes == 100 << 20)
        #expect(config.memory.policy == .tinyLFU)
        #expect(config.disk?.path == repositoryRoot.appendingPathComponent(".paca/cache").path)
        #expect(config.disk?.maxBytes == 1 << 30)
        #expect(config.routes[0].policy.staleWhileRevalidate == 30)
        #expect(config.routes[0].policy.staleIfError == 300)
        #expect(config.accessLogPath == repositoryRoot.appendingPathComponent(".paca/access.log").path)
        #expect(config.routes.map(\.name) == ["users", "all"])
        let users = config.routes[0]
        #expect(users.match.pattern == "/api/users/*")
        #expect(users.origin.schemeAndAuthority == "http://127.0.0.1:9000")
        #expect(users.policy.ttl == 60)
        #expect(users.policy.ttlSource == .cacheControlFirst)
        #expect(users.keyQuery == .include(["id", "page"]))
        #expect(users.keyHeaders == ["accept-language"])
        #expect(config.routes[1].policy.ttl == 30)
        #expect(config.routes[1].keyQuery == .all)
        #expect(!config.warnings.contains { $0.contains("hidden") }, "/api/users/* before /* hides nothing")

        // load(path:) reads the same file.
        let loaded = try ConfigurationLoader.load(path: path)
        #expect(loaded.routes.map(\.fingerprint) == config.routes.map(\.fingerprint))
    }

    @Test("a missing file is an error at $")
    func missingFile() {
        #expect(
            throws: ConfigurationError(file: "/nonexistent/routes.json", path: "$", message: "cannot read file: No such file or directory")
        ) {
            _ = try ConfigurationLoader.load(path: "/nonexistent/routes.json")
        }
    }

    struct Broken: Sendable, CustomTestStringConvertible {
        let note: String
        let json: String
        let path: String
        var testDescription: String { "\(note) → \(path)" }
    }

    static let broken: [Broken] = [
        .init(note: "invalid JSON", json: #"{"routes": ["#, path: "$"),
        .init(note: "not an object", json: #"[]"#, path: "$"),
        .init(note: "routes missing", json: #"{"listen": "127.0.0.1:8080"}"#, path: "$.routes"),
        .init(note: "routes null", json: #"{"routes": null}"#, path: "$.routes"),
        .init(note: "routes empty", json: #"{"routes": []}"#, path: "$.routes"),
        .init(note: "routes not an array", json: #"{"routes": {}}"#, path: "$.routes"),
        .init(note: "unknown top-level field", json: #"{"route": [], "routes": [\#(minimalRoute())]}"#, path: "$.route"),
        .init(note: "listen without a port", json: #"{"listen": "localhost", "routes": [\#(minimalRoute())]}"#, path: "$.listen"),
        .init(note: "listen port out of range", json: #"{"listen": "127.0.0.1:99999", "routes": [\#(minimalRoute())]}"#, path: "$.listen"),
        .init(note: "listen port not a number", json: #"{"listen": "127.0.0.1:http", "routes": [\#(minimalRoute())]}"#, path: "$.listen"),
        .init(note: "listen not a string", json: #"{"listen": 8080, "routes": [\#(minimalRoute())]}"#, path: "$.listen"),
        .init(
            note: "admin listen malformed", json: #"{"admin": {"listen": "nope"}, "routes": [\#(minimalRoute())]}"#, path: "$.admin.listen"),
        .init(note: "route not an object", json: #"{"routes": ["/api/*"]}"#, path: "$.routes[0]"),
        .init(note: "ttl not a duration", json: #"{"routes": [\#(minimalRoute(#""ttl": "sixty""#))]}"#, path: "$.routes[0].ttl"),
        .init(note: "ttl negative", json: #"{"routes": [\#(minimalRoute(#""ttl": -5"#))]}"#, path: "$.routes[0].ttl"),
        .init(note: "ttl a boolean", json: #"{"routes": [\#(minimalRoute(#""ttl": true"#))]}"#, path: "$.routes[0].ttl"),
        .init(note: "unknown route field", json: #"{"routes": [\#(minimalRoute(#""tll": "60s""#))]}"#, path: "$.routes[0].tll"),
        .init(
            note: "second route's origin not a URL",
            json: #"{"routes": [\#(minimalRoute()), {"match": "/b/*", "origin": "localhost:9000"}]}"#, path: "$.routes[1].origin"),
        .init(
            note: "origin with a query", json: #"{"routes": [{"match": "/*", "origin": "http://o/?x=1"}]}"#, path: "$.routes[0].origin"),
        .init(note: "origin missing", json: #"{"routes": [{"match": "/*"}]}"#, path: "$.routes[0].origin"),
        .init(note: "match missing", json: #"{"routes": [{"origin": "http://o"}]}"#, path: "$.routes[0].match"),
        .init(note: "match not a path", json: #"{"routes": [{"match": "api/*", "origin": "http://o"}]}"#, path: "$.routes[0].match"),
        .init(note: "match empty", json: #"{"routes": [{"match": "", "origin": "http://o"}]}"#, path: "$.routes[0].match"),
        .init(
            note: "duplicate route name",
            json: #"{"routes": [\#(minimalRoute(#""name": "a""#)), \#(minimalRoute(#""name": "a""#))]}"#, path: "$.routes[1].name"),
        .init(
            note: "ttl_source unknown", json: #"{"routes": [\#(minimalRoute(#""ttl_source": "origin""#))]}"#, path: "$.routes[0].ttl_source"
        ),
        .init(
            note: "route-only without ttl", json: #"{"routes": [\#(minimalRoute(#""ttl_source": "route-only""#))]}"#,
            path: "$.routes[0].ttl"),
        .init(
            note: "methods with a bad name", json: #"{"routes": [\#(minimalRoute(#""methods": ["GET", "G ET"]"#))]}"#,
            path: "$.routes[0].methods"),
        .init(
            note: "methods entry not a string", json: #"{"routes": [\#(minimalRoute(#""methods": ["GET", 1]"#))]}"#,
            path: "$.routes[0].methods[1]"),
        .init(note: "cache not a boolean", json: #"{"routes": [\#(minimalRoute(#""cache": "yes""#))]}"#, path: "$.routes[0].cache"),
        .init(
            note: "include and exclude both given",
            json: #"{"routes": [\#(minimalRoute(#""key": {"query": {"include": ["a"], "exclude": ["b"]}}"#))]}"#,
            path: "$.routes[0].key.query"),
        .init(
            note: "include not an array", json: #"{"routes": [\#(minimalRoute(#""key": {"query": {"include": "id"}}"#))]}"#,
            path: "$.routes[0].key.query.include"),
        .init(
            note: "unknown key field", json: #"{"routes": [\#(minimalRoute(#""key": {"cookies": ["a"]}"#))]}"#,
            path: "$.routes[0].key.cookies"),
        .init(
            note: "empty key header name", json: #"{"routes": [\#(minimalRoute(#""key": {"headers": [""]}"#))]}"#,
            path: "$.routes[0].key.headers[0]"),
        .init(
            note: "max_body_bytes not a size", json: #"{"routes": [\#(minimalRoute(#""max_body_bytes": "big""#))]}"#,
            path: "$.routes[0].max_body_bytes"),
        .init(
            note: "l1 policy unknown", json: #"{"storage": {"l1": {"policy": "random"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l1.policy"),
        .init(
            note: "l1 max_bytes not a size", json: #"{"storage": {"l1": {"max_bytes": "lots"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l1.max_bytes"),
        .init(
            note: "l1 max_bytes below 1MB", json: #"{"storage": {"l1": {"max_bytes": "512KB"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l1.max_bytes"),
        .init(
            note: "l1 unknown field", json: #"{"storage": {"l1": {"maxbytes": "1GB"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l1.maxbytes"),
        .init(note: "l1 not an object", json: #"{"storage": {"l1": "100MB"}, "routes": [\#(minimalRoute())]}"#, path: "$.storage.l1"),
        .init(
            note: "l2 without a path", json: #"{"storage": {"l2": {"max_bytes": "1GB"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l2.path"),
        .init(
            note: "l3 not redis", json: #"{"storage": {"l3": {"url": "http://127.0.0.1:6379"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.url"),
        .init(
            note: "l3 url and cluster",
            json: #"{"storage": {"l3": {"url": "redis://h", "cluster": ["h:7000"]}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.cluster"),
        .init(
            note: "l3 cluster seed without port", json: #"{"storage": {"l3": {"cluster": ["h"]}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.cluster"),
        .init(
            note: "l3 cluster empty", json: #"{"storage": {"l3": {"cluster": []}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.cluster"),
        .init(
            note: "l3 username with url",
            json: #"{"storage": {"l3": {"url": "redis://h", "username": "u"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.username"),
        .init(
            note: "l3 timeout bad", json: #"{"storage": {"l3": {"url": "redis://h", "timeout": "soon"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.timeout"),
        .init(
            note: "l3 lock timeout too short",
            json: #"{"storage": {"l3": {"url": "redis://h", "lock_timeout": "1ms"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.lock_timeout"),
        .init(
            note: "l3 replica reads without a cluster",
            json: #"{"storage": {"l3": {"url": "redis://h", "read_from_replicas": true}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.read_from_replicas"),
        .init(
            note: "l3 coalesce_lock not a bool",
            json: #"{"storage": {"l3": {"url": "redis://h", "coalesce_lock": "yes"}}, "routes": [\#(minimalRoute())]}"#,
            path: "$.storage.l3.coalesce_lock"),
        .init(
            note: "server header limit too big", json: #"{"server": {"max_header_bytes": "10MB"}, "routes": [\#(minimalRoute())]}"#,
            path: "$.server.max_header_bytes"),
        .init(
            note: "server pipelining out of range", json: #"{"server": {"max_pipelined_requests": 0}, "routes": [\#(minimalRoute())]}"#,
            path: "$.server.max_pipelined_requests"),
        .init(note: "prewarm top not whole", json: #"{"prewarm": {"top": 1.5}, "routes": [\#(minimalRoute())]}"#, path: "$.prewarm.top"),
        .init(
            note: "prewarm interval under a second", json: #"{"prewarm": {"interval": "100ms"}, "routes": [\#(minimalRoute())]}"#,
            path: "$.prewarm.interval"),
        .init(
            note: "prewarm probability over 1", json: #"{"prewarm": {"min_probability": 1.5}, "routes": [\#(minimalRoute())]}"#,
            path: "$.prewarm.min_probability"),
        .init(
            note: "prewarm concurrency 0", json: #"{"prewarm": {"max_concurrency": 0}, "routes": [\#(minimalRoute())]}"#,
            path: "$.prewarm.max_concurrency"),
        .init(note: "prewarm unknown field", json: #"{"prewarm": {"rate": 5}, "routes": [\#(minimalRoute())]}"#, path: "$.prewarm.rate"),
        .init(
            note: "access_log enabled not a boolean", json: #"{"access_log": {"enabled": 1}, "routes": [\#(minimalRoute())]}"#,
            path: "$.access_log.enabled"),
        .init(
            note: "limits unknown field", json: #"{"limits": {"max_keys": 5}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_keys"),
        .init(
            note: "limits purge records zero", json: #"{"limits": {"max_purge_records": 0}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_purge_records"),
        .init(
            note: "limits hit-for-miss keys not whole",
            json: #"{"limits": {"max_hit_for_miss_keys": "many"}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_hit_for_miss_keys"),
        .init(
            note: "limits variants zero", json: #"{"limits": {"max_variants": 0}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_variants"),
        .init(
            note: "limits variants too many", json: #"{"limits": {"max_variants": 1001}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_variants"),
        .init(
            note: "limits variants not whole", json: #"{"limits": {"max_variants": 2.5}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_variants"),
        .init(
            note: "limits waiters zero", json: #"{"limits": {"max_waiters_per_key": 0}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_waiters_per_key"),
        .init(
            note: "limits waiters too many",
            json: #"{"limits": {"max_waiters_per_key": 1000001}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_waiters_per_key"),
        .init(
            note: "limits waiters a string", json: #"{"limits": {"max_waiters_per_key": "lots"}, "routes": [\#(minimalRoute())]}"#,
            path: "$.limits.max_waiters_per_key"),
        .init(
            note: "trusted_proxies not strings", json: #"{"trusted_proxies": [1], "routes": [\#(minimalRoute())]}"#,
            path: "$.trusted_proxies[0]"),
    ]

    @Test("a broken config names the exact JSON path", arguments: broken)
    func brokenConfig(_ c: Broken) {
        do throws(ConfigurationError) {
            let config = try load(c.json, file: "broken.json")
            Issue.record("loaded \(config.routes.count) route(s), expected an error at \(c.path)")
        } catch {
            #expect(error.path == c.path, "\(error.message)")
            #expect(error.file == "broken.json")
            #expect(!error.message.isEmpty)
            #expect(error.description == "broken.json: \(c.path): \(error.message)")
        }
    }

    @Test("sizes, durations and every route field are parsed")
    func parsedValues() throws {
        let config = try load(
            #"""
            {
              "listen": ":8081",
              "admin": {"listen": "127.0.0.2:9191", "token_env": "PACA_TOKEN"},
              "server": {"max_header_bytes": "64KB", "max_body_bytes": "10MB", "idle_timeout": "90s",
                         "shutdown_grace": "1500ms", "max_pipelined_requests": 8},
              "storage": {
                "l1": {"max_bytes": "1GB", "policy": "LFU", "max_entry_bytes": "4MB", "sendfile_min_bytes": "16KB", "sendfile_max_bytes": "32MB"},
                "l2": {"path": "cache/l2", "max_bytes": "2GB"},
                "l3": {"url": "redis://127.0.0.1:6379/0", "timeout": "75ms", "password_env": "REDIS_PASSWORD"}
              },
              "access_log": {"path": "logs/access.log"},
              "prewarm": {"enabled": true, "top": 50, "interval": "5m", "max_rps": 7, "max_concurrency": 3, "min_probability": "90%",
                          "followers": false, "follower_probability": 0.6, "capacity": 2000, "model": "state/model.json"},
              "trusted_proxies": ["10.0.0.1", "10.0.0.2"],
              "routes": [{
                "name": "api", "match": "/api/*", "origin": "https://Example.com:8443/base/",
                "ttl": "1h", "ttl_source": "route-first", "max_ttl": "1d", "stale_while_revalidate": "30s", "stale_if_error": 300,
                "connect_timeout": "250ms", "timeout": "2m", "max_body_bytes": "1MB", "methods": ["get", "HEAD"],
                "key": {"query": {"exclude": ["utm_source"]}, "headers": ["Accept-Language"]},
                "forward_headers": ["X-Tenant"], "strip_cookies": true, "preserve_host": true, "ignore": ["Set-Cookie"],
                "cache": true, "cache_status": false, "honor_client_no_cache": false, "convert_head": false,
                "honor_immutable": false, "store_post_responses": true
              }]
            }
            """#)
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.port == 8081)
        #expect(config.server.maxHeaderBytes == 64 << 10)
        #expect(config.server.maxBodyBytes == 10 << 20)
        #expect(config.server.idleTimeout == .seconds(90))
        #expect(config.server.shutdownGracePeriod == .milliseconds(1500))
        #expect(config.server.maxPipelinedRequests == 8)
        #expect(config.admin?.listen == "127.0.0.2:9191")
        #expect(config.admin?.tokenEnvironmentVariable == "PACA_TOKEN")
        #expect(config.memory.maxBytes == 1 << 30)
        #expect(config.memory.policy == .lfu)
        #expect(config.memory.maxEntryBytes == 4 << 20)
        #expect(config.memory.sendfile == .init(minBodyBytes: 16 << 10, maxBytes: 32 << 20))
        #expect(config.disk?.path == "/etc/paca/cache/l2")
        #expect(config.disk?.maxBytes == 2 << 30)
        #expect(config.redis?.url == "redis://127.0.0.1:6379/0")
        #expect(config.redis?.namespace == "paca")
        #expect(config.redis?.timeout == .milliseconds(75))
        #expect(config.redis?.passwordEnvironmentVariable == "REDIS_PASSWORD")
        #expect(config.accessLogPath == "/etc/paca/logs/access.log")
        #expect(config.prewarm.enabled)
        #expect(config.prewarm.top == 50)
        #expect(config.prewarm.interval == .seconds(300))
        #expect(config.prewarm.maxRequestsPerSecond == 7)
        #expect(config.prewarm.maxConcurrency == 3)
        #expect(config.prewarm.minimumProbability == 0.9)
        #expect(!config.prewarm.followers)
        #expect(config.prewarm.followerProbability == 0.6)
        #expect(config.prewarm.capacity == 2000)
        #expect(config.prewarm.modelPath == "/etc/paca/state/model.json")
        #expect(config.trustedProxies == ["10.0.0.1", "10.0.0.2"])

        let route = try #require(config.routes.first)
        #expect(route.name == "api")
        #expect(route.origin.scheme == "https")
        #expect(route.origin.authority == "example.com:8443")
        #expect(route.origin.basePath == "/base")
        #expect(route.policy.ttl == 3600)
        #expect(route.policy.ttlSource == .routeFirst)
        #expect(route.policy.maxTTL == 86_400)
        #expect(route.policy.staleWhileRevalidate == 30)
        #expect(route.policy.staleIfError == 300)
        #expect(route.policy.maxBodyBytes == 1 << 20)
        #expect(route.policy.ignore == ["set-cookie"])
        #expect(route.connectTimeout == .milliseconds(250))
        #expect(route.timeout == .seconds(120))
        #expect(route.methods == ["GET", "HEAD"])
        #expect(route.keyQuery == .exclude(["utm_source"]))
        #expect(route.keyHeaders == ["accept-language"])
        #expect(route.forwardHeaders == ["x-tenant"])
        #expect(route.stripCookies)
        #expect(route.preserveHost)
        #expect(route.cache)
        #expect(!route.cacheStatus)
        #expect(!route.honorClientNoCache)
        #expect(!route.honorImmutable)
        #expect(!route.convertHead)
        #expect(route.storePostResponses)
    }

    @Test("storage.l3.cluster names seed nodes instead of a url, with the password from password_env")
    func clusterSeeds() throws {
        let config = try load(
            #"{"storage": {"l3": {"cluster": ["10.0.0.1:7000", "[::1]:7001"], "username": "paca", "password_env": "P"}}, "routes": [\#(minimalRoute())]}"#
        )
        #expect(config.redis?.cluster == ["10.0.0.1:7000", "[::1]:7001"])
        #expect(config.redis?.username == "paca")
        #expect(config.redis?.url == "")
        #expect(config.redis?.passwordEnvironmentVariable == "P")
        #expect(config.redis?.readFromReplicas == false)
        let replicas = try load(
            #"{"storage": {"l3": {"cluster": ["10.0.0.1:7000"], "read_from_replicas": true}}, "routes": [\#(minimalRoute())]}"#)
        #expect(replicas.redis?.readFromReplicas == true)
        #expect(ConfigurationSummary.lines(replicas).joined().contains("reads from replicas"))
    }

    @Test("storage.l3 coalesces misses across nodes by default, with a 3 s lock; coalesce_lock and lock_timeout change that")
    func coalesceLock() throws {
        let defaults = try load(#"{"storage": {"l3": {"url": "redis://h"}}, "routes": [\#(minimalRoute())]}"#)
        #expect(defaults.redis?.coalesceLock == true)
        #expect(defaults.redis?.lockTimeout == .seconds(3))
        let set = try load(
            #"{"storage": {"l3": {"url": "redis://h", "coalesce_lock": false, "lock_timeout": "750ms"}}, "routes": [\#(minimalRoute())]}"#)
        #expect(set.redis?.coalesceLock == false)
        #expect(set.redis?.lockTimeout == .milliseconds(750))
    }

    @Test("limits bound the hit-for-miss and purge memories separately")
    func limits() throws {
        let config = try load(
            #"{"limits": {"max_hit_for_miss_keys": 500, "max_purge_records": 250000}, "routes": [\#(minimalRoute())]}"#)
        #expect(config.limits.maxHitForMissKeys == 500)
        #expect(config.limits.maxPurgeRecords == 250_000)
        let onlyOne = try load(#"{"limits": {"max_purge_records": 7}, "routes": [\#(minimalRoute())]}"#)
        #expect(onlyOne.limits.maxHitForMissKeys == 10_000)
        #expect(onlyOne.limits.maxPurgeRecords == 7)
    }

    @Test("limits bound the variants per URL and the waiters per key, at both ends of their ranges")
    func variantAndWaiterLimits() throws {
        let config = try load(#"{"limits": {"max_variants": 2, "max_waiters_per_key": 3}, "routes": [\#(minimalRoute())]}"#)
        #expect(config.limits.maxVariants == 2)
        #expect(config.limits.maxWaitersPerKey == 3)
        let widest = try load(
            #"{"limits": {"max_variants": 1000, "max_waiters_per_key": 1000000}, "routes": [\#(minimalRoute())]}"#)
        #expect(widest.limits.maxVariants == 1000)
        #expect(widest.limits.maxWaitersPerKey == 1_000_000)
        let narrowest = try load(#"{"limits": {"max_variants": 1, "max_waiters_per_key": 1}, "routes": [\#(minimalRoute())]}"#)
        #expect(narrowest.limits.maxVariants == 1)
        #expect(narrowest.limits.maxWaitersPerKey == 1)
        // The others keep their defaults.
        #expect(config.limits.maxHitForMissKeys == 10_000)
        #expect(config.limits.maxPurgeRecords == 100_000)
    }

    @Test("defaults when a section is absent")
    func defaults() throws {
        let config = try load(#"{"routes": [\#(minimalRoute())]}"#)
        #expect(config.server.host == "127.0.0.1")
        #expect(config.server.port == 8080)
        #expect(config.admin == nil)
        #expect(config.memory.maxBytes == 100 << 20)
        #expect(config.memory.policy == .tinyLFU)
        #expect(config.memory.maxEntryBytes == nil)
        #expect(config.memory.sendfile == .init(minBodyBytes: 128 << 10, maxBytes: 25 << 20), "128 KB and a quarter of L1 by default")
        #expect(config.disk == nil)
        #expect(config.redis == nil)
        #expect(config.accessLogPath == nil)
        #expect(!config.prewarm.enabled)
        #expect(config.prewarm.top == 1000)
        #expect(config.prewarm.interval == .seconds(60))
        #expect(config.prewarm.maxRequestsPerSecond == 20)
        #expect(config.trustedProxies.isEmpty)
        #expect(config.limits.maxHitForMissKeys == 10_000)
        #expect(config.limits.maxPurgeRecords == 100_000)
        #expect(config.limits.maxVariants == 16)
        #expect(config.limits.maxWaitersPerKey == 10_000)
        #expect(config.warnings.isEmpty)
        let route = try #require(config.routes.first)
        #expect(route.name == "route0")
        #expect(route.methods == nil)
        #expect(route.cache)
        #expect(route.honorImmutable)
        #expect(route.convertHead)
        #expect(!route.storePostResponses)
        #expect(route.policy.ttl == nil)
        #expect(route.policy.maxBodyBytes == .max)
        #expect(route.keyQuery == .all)
        #expect(route.connectTimeout == .seconds(5))
        #expect(route.timeout == .seconds(30))
    }

    @Test(
        "listen takes host:port, [v6]:port and :port",
        arguments: [
            ("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:8081", "::1", 8081), (":9000", "0.0.0.0", 9000), ("localhost:0", "localhost", 0),
        ])
    func listen(text: String, host: String, port: Int) throws {
        let config = try load(#"{"listen": "\#(text)", "routes": [\#(minimalRoute())]}"#)
        #expect(config.server.host == host)
        #expect(config.server.port == port)
    }

    @Test("numbers are accepted as seconds and bytes")
    func plainNumbers() throws {
        let config = try load(
            #"{"storage": {"l1": {"max_bytes": 2097152}}, "routes": [\#(minimalRoute(#""ttl": 90, "connect_timeout": 0.25"#))]}"#)
        #expect(config.memory.maxBytes == 2 << 20)
        #expect(config.routes[0].policy.ttl == 90)
        #expect(config.routes[0].connectTimeout == .milliseconds(250))
    }

    struct PathCase: Sendable, CustomTestStringConvertible {
        let file: String
        let written: String
        let resolved: String
        var testDescription: String { "\(written) in \(file) → \(resolved)" }
    }

    @Test(
        "relative paths resolve against the config file's directory",
        arguments: [
            PathCase(file: "/etc/paca/routes.json", written: "logs/access.log", resolved: "/etc/paca/logs/access.log"),
            PathCase(file: "/etc/paca/routes.json", written: ".paca/access.log", resolved: "/etc/paca/.paca/access.log"),
            PathCase(file: "/etc/paca/routes.json", written: "/var/log/paca.log", resolved: "/var/log/paca.log"),
            PathCase(file: "conf/routes.json", written: "access.log", resolved: "conf/access.log"),
            PathCase(file: "routes.json", written: "logs/access.log", resolved: "logs/access.log"),
        ])
    func relativePaths(_ c: PathCase) throws {
        let config = try load(
            #"{"access_log": {"path": "\#(c.written)"}, "storage": {"l2": {"path": "\#(c.written)"}}, "routes": [\#(minimalRoute())]}"#,
            file: c.file)
        #expect(config.accessLogPath == c.resolved)
        #expect(config.disk?.path == c.resolved)
    }

    @Test("access_log enabled: false turns logging off")
    func accessLogDisabled() throws {
        let config = try load(#"{"access_log": {"path": "a.log", "enabled": false}, "routes": [\#(minimalRoute())]}"#)
        #expect(config.accessLogPath == nil)
    }

    struct ShadowCase: Sendable, CustomTestStringConvertible {
        let earlier: String
        let later: String
        let hidden: Bool
        var testDescription: String { "\(earlier) then \(later): \(hidden ? "hidden" : "reachable")" }
    }

    @Test(
        "a route hidden by an earlier one is warned about",
        arguments: [
            ShadowCase(earlier: "/*", later: "/api/*", hidden: true),
            ShadowCase(earlier: "/api/*", later: "/api/users/*", hidden: true),
            ShadowCase(earlier: "/api/*", later: "/api/users", hidden: true),
            ShadowCase(earlier: "/a", later: "/a", hidden: true),
            ShadowCase(earlier: "/api/users/*", later: "/*", hidden: false),
            ShadowCase(earlier: "/api/*", later: "/images/*", hidden: false),
            ShadowCase(earlier: "/a", later: "/a/*", hidden: false),
        ])
    func shadowedRoute(_ c: ShadowCase) throws {
        let config = try load(
            #"""
            {"routes": [
              {"name": "first", "match": "\#(c.earlier)", "origin": "http://o"},
              {"name": "second", "match": "\#(c.later)", "origin": "http://o"}
            ]}
            """#)
        let warning = config.warnings.first { $0.hasPrefix("$.routes[1]") }
        if c.hidden {
            #expect(warning == "$.routes[1] (second): hidden by the earlier route \"first\" (\(c.earlier))")
        } else {
            #expect(warning == nil)
        }
        #expect(config.routes.count == 2, "a hidden route is a warning, not an error")
    }
}
