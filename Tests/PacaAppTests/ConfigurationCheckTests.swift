import Foundation
import PacaApp
import Testing

private func load(_ json: String) throws(ConfigurationError) -> PacaConfiguration {
    try ConfigurationLoader.parse(Data(json.utf8), file: "routes.json")
}

/// The error `json` is refused with (an issue when it loads).
private func refusal(_ json: String) -> ConfigurationError? {
    do throws(ConfigurationError) {
        let config = try load(json)
        Issue.record("loaded \(config.routes.count) route(s), expected an error")
        return nil
    } catch {
        return error
    }
}

private let route = #"{"match": "/*", "origin": "http://127.0.0.1:9000"}"#

@Suite("Configuration checks a new user runs into")
struct ConfigurationCheckTests {
    struct Syntax: Sendable, CustomTestStringConvertible {
        let note: String
        let json: String
        let line: Int
        let column: Int
        var testDescription: String { note }
    }

    @Test(
        "a syntax error names its line and column",
        arguments: [
            Syntax(
                note: "missing comma between fields", json: "{\n  \"listen\": \"127.0.0.1:8080\"\n  \"routes\": []\n}", line: 3, column: 3),
            Syntax(note: "unterminated array", json: "{\"routes\": [", line: 1, column: 13),
            Syntax(note: "single quotes", json: "{\n\n    'routes': []}", line: 3, column: 5),
            Syntax(note: "a bare word", json: "{\"routes\": [\(route)], \"listen\": localhost}", line: 1, column: 76),
            Syntax(note: "line break inside a string", json: "{\"listen\": \"127.0.0.1\n:8080\"}", line: 1, column: 22),
            Syntax(note: "columns count characters, not bytes", json: "{\"comment\": \"été\" x}", line: 1, column: 19),
            Syntax(note: "garbage after the document", json: "{\"routes\": [\(route)]} }", line: 1, column: 66),
            Syntax(note: "leading zero", json: "{\"server\": {\"event_loops\": 04}}", line: 1, column: 28),
        ])
    func syntaxErrorPosition(_ c: Syntax) throws {
        let error = try #require(refusal(c.json))
        #expect(error.path == "$")
        #expect(error.message.hasPrefix("not valid JSON at line \(c.line), column \(c.column): "), "\(error.message)")
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let note: String
        let json: String
        let path: String
        let message: String
        var testDescription: String { note }
    }

    @Test(
        "duplicate keys and trailing commas are refused at their JSON path",
        arguments: [
            Refused(
                note: "duplicate top-level key", json: "{\"listen\": \":1\",\n \"listen\": \":2\", \"routes\": [\(route)]}",
                path: "$.listen", message: "duplicate key \"listen\" (each key may appear once in an object) at line 2, column 2"),
            Refused(
                note: "duplicate key in a route",
                json: #"{"routes": [{"match": "/*", "origin": "http://a", "ttl": "1s", "ttl": "2s"}]}"#, path: "$.routes[0].ttl",
                message: "duplicate key \"ttl\" (each key may appear once in an object) at line 1, column 64"),
            Refused(
                note: "trailing comma in an object", json: "{\"routes\": [\(route)],\n}", path: "$",
                message: "trailing comma before \"}\" at line 1, column 64"),
            Refused(
                note: "trailing comma in an array", json: #"{"routes": [{"match": "/*", "origin": "http://a", "methods": ["GET",]}]}"#,
                path: "$.routes[0].methods", message: "trailing comma before \"]\" at line 1, column 68"),
        ])
    func strictness(_ c: Refused) throws {
        let error = try #require(refusal(c.json))
        #expect(error.path == c.path)
        #expect(error.message == c.message)
    }

    @Test("valid JSON still loads: escapes, surrogate pairs, numbers, a byte order mark")
    func validJSONLoads() throws {
        let json =
            "\u{FEFF}{\"comment\": \"tab\\t \\u00e9 \\ud83d\\ude00 \\/\", \"server\": {\"max_body_bytes\": 1.5e3, \"event_loops\": 2},"
            + " \"routes\": [ \(route) ] }\n"
        let config = try load(json)
        #expect(config.server.maxBodyBytes == 1500)
        #expect(config.eventLoops == 2)
    }

    @Test(
        "a method neither standard nor a registered extension is refused by name (PROPFIND, PURGE pass)",
        arguments: ["GETT", "FETCH", "POSTT"])
    func unknownMethod(_ method: String) throws {
        let error = try #require(refusal(#"{"routes": [{"match": "/*", "origin": "http://a", "methods": ["GET", "\#(method)"]}]}"#))
        #expect(error.path == "$.routes[0].methods")
        #expect(error.message.hasPrefix("\"\(method)\" is not a standard HTTP method (expected one of GET, HEAD, POST"), "\(error.message)")
    }

    @Test("registered extension methods are accepted")
    func extensionMethods() throws {
        let config = try load(#"{"routes": [{"match": "/*", "origin": "http://a", "methods": ["GET", "PROPFIND", "purge", "M-SEARCH"]}]}"#)
        #expect(config.routes[0].methods == ["GET", "PROPFIND", "PURGE", "M-SEARCH"])
    }

    @Test("every standard method is accepted, in any case")
    func standardMethods() throws {
        let methods = #"["get", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]"#
        let config = try load(#"{"routes": [{"match": "/*", "origin": "http://a", "methods": \#(methods)}]}"#)
        #expect(config.routes[0].methods?.count == 9)
        #expect(config.routes[0].methods?.contains("GET") == true)
    }

    @Test("a file that cannot be read says why")
    func unreadableFile() throws {
        let missing = NSTemporaryDirectory() + "paca-missing-\(UUID().uuidString).json"
        #expect(throws: ConfigurationError(file: missing, path: "$", message: "cannot read file: No such file or directory")) {
            _ = try ConfigurationLoader.load(path: missing)
        }
        let directory = NSTemporaryDirectory() + "paca-dir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: ConfigurationError(file: directory, path: "$", message: "cannot read file: Is a directory")) {
            _ = try ConfigurationLoader.load(path: directory)
        }
        // Permission bits do not stop root: only check the wording where they apply.
        let locked = directory + "/routes.json"
        try route.write(toFile: locked, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: locked)
        if getuid() != 0 {
            #expect(throws: ConfigurationError(file: locked, path: "$", message: "cannot read file: Permission denied")) {
                _ = try ConfigurationLoader.load(path: locked)
            }
        }
    }

    @Test("max_ttl below ttl draws a warning naming the route; at or above it none")
    func maxTTLBelowTTL() throws {
        let low = try load(#"{"routes": [{"name": "api", "match": "/*", "origin": "http://a", "ttl": "5m", "max_ttl": "60s"}]}"#)
        #expect(low.warnings == ["$.routes[0] (api): max_ttl (60s) is below ttl (300s), so entries live at most 60s"])
        let fine = try load(#"{"routes": [{"match": "/*", "origin": "http://a", "ttl": "60s", "max_ttl": "60s"}]}"#)
        #expect(fine.warnings.isEmpty)
    }

    @Test("an L3 password_env naming an unset variable draws a warning")
    func unsetPasswordEnvironmentVariable() throws {
        let variable = "PACA_TEST_UNSET_\(UUID().uuidString.replacingOccurrences(of: "-", with: "_"))"
        let config = try load(
            #"{"storage": {"l3": {"url": "redis://127.0.0.1:6379", "password_env": "\#(variable)"}}, "routes": [\#(route)]}"#)
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.contains("$.storage.l3.password_env: the environment variable \(variable) is not set") == true)
        // PATH is set wherever tests run.
        let set = try load(#"{"storage": {"l3": {"url": "redis://127.0.0.1:6379", "password_env": "PATH"}}, "routes": [\#(route)]}"#)
        #expect(set.warnings.isEmpty)
    }

    @Test("the check-config summary shows tiers, key rules, stale windows and max_ttl, never the Redis password")
    func summary() throws {
        let config = try load(
            #"""
            {"storage": {"l2": {"path": "/var/cache/paca", "max_bytes": "2GB"},
                         "l3": {"url": "redis://:s3cret@redis.local:6380/2", "namespace": "shop"}},
             "routes": [{"name": "users", "match": "/api/users/*", "origin": "http://127.0.0.1:9000", "ttl": "60s", "max_ttl": "10m",
                         "stale_while_revalidate": "30s", "stale_if_error": "5m",
                         "key": {"query": {"include": ["page", "id"]}, "headers": ["Accept-Language"]}},
                        {"name": "all", "match": "/*", "origin": "http://127.0.0.1:9000", "cache": false}]}
            """#)
        let text = ConfigurationSummary.lines(config).joined(separator: "\n")
        #expect(text.contains("L2 disk: /var/cache/paca, 2GB, entries up to 256MB"))
        #expect(text.contains("L3 Redis: redis://:***@redis.local:6380/2, namespace shop, timeout 50ms"))
        #expect(text.contains("misses coalesced across nodes (lock timeout 3000ms)"))
        #expect(!text.contains("s3cret"))
        #expect(text.contains("users: /api/users/* -> http://127.0.0.1:9000  methods=all"))
        #expect(text.contains("ttl=60s ttl_source=cache-control-first max_ttl=600s stale_while_revalidate=30s stale_if_error=300s"))
        #expect(text.contains("key: query=only id,page headers=accept-language"))
        #expect(text.contains("all: /* -> http://127.0.0.1:9000  methods=all"))
        #expect(text.contains("cache=false (pass-through)"))
        #expect(text.contains("key: query=all headers=none"))
        #expect(text.contains("stale_if_unreachable=none cache_control_targets=paca-cache-control,cdn-cache-control"))
    }

    @Test("cache_control_targets and stale_if_unreachable are read, shown by check-config, and checked")
    func targetedAndUnreachable() throws {
        let config = try load(
            #"""
            {"routes": [{"name": "cdn", "match": "/cdn/*", "origin": "http://127.0.0.1:9000",
                         "cache_control_targets": ["CDN-Cache-Control"], "stale_if_unreachable": "1h"},
                        {"name": "off", "match": "/*", "origin": "http://127.0.0.1:9000", "cache_control_targets": []}]}
            """#)
        #expect(config.routes[0].policy.cacheControlTargets == ["cdn-cache-control"])
        #expect(config.routes[0].policy.staleIfUnreachable == 3600)
        #expect(config.routes[1].policy.cacheControlTargets.isEmpty)
        #expect(config.routes[1].policy.staleIfUnreachable == nil)
        let text = ConfigurationSummary.lines(config).joined(separator: "\n")
        #expect(text.contains("stale_if_unreachable=3600s cache_control_targets=cdn-cache-control"))
        #expect(text.contains("stale_if_unreachable=none cache_control_targets=none"))
        let base = #""match": "/*", "origin": "http://127.0.0.1:9000""#
        #expect(
            refusal(#"{"routes": [{\#(base), "cache_control_targets": ["cache-control"]}]}"#)?.path == "$.routes[0].cache_control_targets")
        #expect(refusal(#"{"routes": [{\#(base), "cache_control_targets": ["bad name"]}]}"#) != nil)
        #expect(refusal(#"{"routes": [{\#(base), "stale_if_unreachable": "soon"}]}"#) != nil)
    }
}
