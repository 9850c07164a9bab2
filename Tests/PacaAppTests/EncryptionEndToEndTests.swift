import Foundation
import NIOCore
import PacaApp
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

/// Encryption at rest through the real proxy: a real L2 directory and a real `redis-server`.
@Suite("Encryption at rest end to end", .timeLimit(.minutes(1)))
struct EncryptionEndToEndTests {
    static let bodyMarker = "BODY-PLAINTEXT-MARKER-5150"
    static let headerMarker = "header-plaintext-marker-6160"
    static let keyOne = String(repeating: "1f", count: 32)
    static let keyTwo = Data(repeating: 0x2e, count: 32).base64EncodedString()
    static let variable = "PACA_TEST_CACHE_KEY"

    /// An encrypting catch-all route and a plain `/plain/*` route, over L1, L2 (`l2` in the
    /// harness directory) and L3.
    static func config(redis: RedisServer, keyID: String = "k1", l2: Bool = true) -> String {
        let l2Section = l2 ? #", "l2": { "path": "l2" }"# : ""
        return """
            { "listen": "127.0.0.1:0",
              "storage": { "l1": { "max_bytes": "8MB" }\(l2Section),
                           "l3": { "url": "\(redis.url)", "namespace": "paca-enc", "timeout": "200ms" },
                           "encryption": { "key_env": "\(variable)", "key_id": "\(keyID)" } },
              "routes": [
                { "name": "plain", "match": "/plain/*", "origin": "ORIGIN", "timeout": "5s" },
                { "name": "sealed", "match": "/*", "origin": "ORIGIN", "timeout": "5s", "encrypt": true } ] }
            """
    }

    static func origin() async throws -> TestOrigin {
        try await TestOrigin { seen in
            TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=600"), ("X-Account", headerMarker)], body: "\(bodyMarker) \(seen.uri)")
        }
    }

    /// Every entry file under `directory/l2` (temporary files excepted), with its bytes.
    static func l2Files(_ directory: String) -> [String: Data] {
        let root = directory + "/l2"
        var files: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            guard !relative.hasPrefix("tmp"), let data = FileManager.default.contents(atPath: root + "/" + relative), !data.isEmpty
            else { continue }
            files[relative] = data
        }
        return files
    }

    /// Every value in the test namespace, raw.
    static func redisValues(_ redis: RedisServer) async throws -> [Data] {
        let tier = RedisTier(configuration: try .init(url: redis.url, namespace: "paca-enc"))
        defer { Task { await tier.shutdown() } }
        guard case .array(let keys) = try await tier.command(["KEYS", "paca-enc:e:*"]) else { return [] }
        var values: [Data] = []
        for case .bulk(let key) in keys {
            if case .bulk(let value) = try await tier.command(["GET", String(buffer: key)]) {
                values.append(Data(value.readableBytesView))
            }
        }
        return values
    }

    static func holdsPlaintext(_ data: Data) -> Bool {
        data.range(of: Data(bodyMarker.utf8)) != nil || data.range(of: Data(headerMarker.utf8)) != nil
    }

    @Test("an encrypting route's L2 files and Redis values hold neither body nor header text; they are served as l2, l3 and l1 hits")
    func sealedAtRest() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let environment = [Self.variable: Self.keyOne]
        let proxy = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis), environment: environment)
        let l3Only = try await ProxyHarness.start(origin: origin, config: Self.config(redis: redis, l2: false), environment: environment)
        defer {
            Task {
                await proxy.shutdown(); await l3Only.shutdown(); await origin.shutdown(); await redis.stop()
            }
        }

        let first = try await proxy.get("/secret")
        #expect(first.cacheStatus.contains("stored"))
        #expect(first.body == "\(Self.bodyMarker) /secret")
        // The plain route is the control: the same markers are found where nothing is sealed.
        #expect(try await proxy.get("/plain/open").cacheStatus.contains("stored"))
        await proxy.app.cache.flushWrites()

        let files = Self.l2Files(proxy.directory)
        #expect(files.count == 2)
        #expect(files.values.filter(Self.holdsPlaintext).count == 1)
        let values = try await Self.redisValues(redis)
        #expect(values.count == 2)
        #expect(values.filter(Self.holdsPlaintext).count == 1)

        // L1 dropped: the sealed entry comes up from L2, opened, with its header; then L1 serves it.
        proxy.app.memory.removeAll()
        let fromDisk = try await proxy.get("/secret")
        #expect(fromDisk.cacheStatus.hasSuffix("detail=l2"))
        #expect(fromDisk.body == "\(Self.bodyMarker) /secret")
        #expect(fromDisk.header("X-Account") == Self.headerMarker)
        let fromMemory = try await proxy.get("/secret")
        #expect(fromMemory.cacheStatus.hasSuffix("detail=l1"))
        #expect(fromMemory.body == "\(Self.bodyMarker) /secret")

        // Another node with the same key and no L2 opens the Redis value.
        let fromRedis = try await l3Only.get("/secret")
        #expect(fromRedis.cacheStatus.hasSuffix("detail=l3"))
        #expect(fromRedis.body == "\(Self.bodyMarker) /secret")
        #expect(fromRedis.header("X-Account") == Self.headerMarker)
        #expect(origin.requestCount == 2)
    }

    @Test("restarted with the same key the entry is an l2 hit; with a rotated key (new id or new key) it is a miss fetched again")
    func rotatedKey() async throws {
        let redis = try await RedisServer()
        let origin = try await Self.origin()
        let config = Self.config(redis: redis)
        let writer = try await ProxyHarness.start(origin: origin, config: config, environment: [Self.variable: Self.keyOne])
        let directory = writer.directory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await writer.get("/doc")
        await writer.app.cache.flushWrites()
        await writer.shutdown(keepDirectory: true)

        let same = try await ProxyHarness.start(
            origin: origin, config: config, directory: directory, environment: [Self.variable: Self.keyOne])
        let again = try await same.get("/doc")
        #expect(again.cacheStatus.hasSuffix("detail=l2"))
        #expect(again.body == "\(Self.bodyMarker) /doc")
        await same.shutdown(keepDirectory: true)
        #expect(origin.requestCount == 1)

        // A new key id and key: neither L2 nor L3 can open the entry; the origin answers.
        let rotated = try await ProxyHarness.start(
            origin: origin, config: Self.config(redis: redis, keyID: "k2"), directory: directory,
            environment: [Self.variable: Self.keyTwo])
        let refetched = try await rotated.get("/doc")
        #expect(!refetched.cacheStatus.contains("hit"))
        #expect(refetched.cacheStatus.contains("stored"))
        #expect(refetched.body == "\(Self.bodyMarker) /doc")
        #expect(origin.requestCount == 2)
        await rotated.app.cache.flushWrites()
        await rotated.shutdown(keepDirectory: true)

        // The key changed under the same id: the entries do not open, so again a miss.
        let changed = try await ProxyHarness.start(
            origin: origin, config: Self.config(redis: redis, keyID: "k2"), directory: directory,
            environment: [Self.variable: Self.keyOne])
        let refetchedAgain = try await changed.get("/doc")
        #expect(!refetchedAgain.cacheStatus.contains("hit"))
        #expect(refetchedAgain.body == "\(Self.bodyMarker) /doc")
        #expect(origin.requestCount == 3)
        await changed.shutdown(keepDirectory: true)
        await origin.shutdown()
        await redis.stop()
    }

    @Test("an answer too large for L1 on an encrypting route is not streamed into L2: it passes uncached (detail=too-large)")
    func largeAnswersPass() async throws {
        let origin = try await TestOrigin { _ in
            TestOrigin.Reply(headers: [("Cache-Control", "max-age=600")], body: String(repeating: Self.bodyMarker, count: 400))
        }
        let config = catchAll(
            #", "storage": { "l1": { "max_bytes": "8MB", "max_entry_bytes": "4KB" }, "l2": { "path": "l2" }, "#
                + #""encryption": { "key_env": "\#(Self.variable)", "key_id": "k1" } }"#,
            routeExtra: #", "encrypt": true"#)
        let proxy = try await ProxyHarness.start(origin: origin, config: config, environment: [Self.variable: Self.keyOne])
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }
        let response = try await proxy.get("/big")
        #expect(response.body.count == Self.bodyMarker.count * 400)
        #expect(response.cacheStatus.contains("detail=too-large"))
        await proxy.app.cache.flushWrites()
        #expect(Self.l2Files(proxy.directory).isEmpty)
        _ = try await proxy.get("/big")
        #expect(origin.requestCount == 2)
    }

    @Test("a missing or malformed key stops the start with a clear error")
    func keyErrors() async throws {
        let config = catchAll(
            #", "storage": { "encryption": { "key_env": "PACA_TEST_UNSET_KEY_VARIABLE", "key_id": "k1" } }"#,
            routeExtra: #", "encrypt": true"#)
        await #expect {
            try await ProxyHarness.start(origin: nil, config: config)
        } throws: { error in
            "\(error)".contains("PACA_TEST_UNSET_KEY_VARIABLE, which is not set")
        }
        await #expect {
            try await ProxyHarness.start(origin: nil, config: config, environment: ["PACA_TEST_UNSET_KEY_VARIABLE": "abcd"])
        } throws: { error in
            "\(error)".contains("is not a usable key") && !"\(error)".contains("abcd")
        }
    }

    @Test("encrypt needs storage.encryption; the section refuses unknown fields; encrypt is part of the key fingerprint")
    func configuration() throws {
        func parse(_ json: String) throws -> PacaConfiguration {
            let text = json.replacingOccurrences(of: "ORIGIN", with: "http://127.0.0.1:1")
            return try ConfigurationLoader.parse(Data(text.utf8), file: "/x/routes.json")
        }
        let missing = ConfigurationError(
            file: "/x/routes.json", path: "$.routes[0].encrypt",
            message: "needs storage.encryption (key_env and key_id) to seal the route's entries")
        #expect(throws: missing) {
            try parse(catchAll(routeExtra: #", "encrypt": true"#))
        }
        #expect(throws: ConfigurationError.self) {
            try parse(catchAll(#", "storage": { "encryption": { "key_env": "K", "key_id": "k1", "key": "inline" } }"#))
        }
        #expect(throws: ConfigurationError.self) { try parse(catchAll(#", "storage": { "encryption": { "key_env": "K" } }"#)) }
        let parsed = try parse(
            catchAll(#", "storage": { "encryption": { "key_env": "K", "key_id": "k1" } }"#, routeExtra: #", "encrypt": true"#))
        #expect(parsed.encryption == PacaConfiguration.Encryption(keyEnvironmentVariable: "K", keyID: "k1"))
        #expect(parsed.routes[0].encrypt)
        let plain = try parse(catchAll())
        #expect(!plain.routes[0].encrypt)
        #expect(plain.routes[0].fingerprint != parsed.routes[0].fingerprint)
    }
}
