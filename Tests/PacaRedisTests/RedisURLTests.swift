import PacaRedis
import Testing

@Suite("Redis URL and configuration")
struct RedisURLTests {
    static let valid: [(String, RedisURL)] = [
        ("redis://127.0.0.1", RedisURL(host: "127.0.0.1")),
        ("redis://localhost:6380", RedisURL(host: "localhost", port: 6380)),
        ("redis://:secret@127.0.0.1:6379/0", RedisURL(host: "127.0.0.1", password: "secret")),
        ("redis://:secret@cache.internal/3", RedisURL(host: "cache.internal", password: "secret", database: 3)),
        ("redis://paca:s3cret@10.0.0.5:7000/1", RedisURL(host: "10.0.0.5", port: 7000, username: "paca", password: "s3cret", database: 1)),
        ("redis://secret@127.0.0.1", RedisURL(host: "127.0.0.1", password: "secret")),
        ("redis://:p%40ss%3Aword@h", RedisURL(host: "h", password: "p@ss:word")),
        ("redis://[::1]:6390/2", RedisURL(host: "::1", port: 6390, database: 2)),
        ("redis://[::1]", RedisURL(host: "::1")),
        ("REDIS://h/", RedisURL(host: "h")),
        ("redis://:@h", RedisURL(host: "h")),
    ]

    @Test("valid URLs parse into host, port, credentials and database", arguments: valid)
    func parsesValidURLs(text: String, expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    static let invalid: [(String, RedisURLError)] = [
        ("127.0.0.1:6379", .missingScheme),
        ("rediss://h", .unsupportedScheme("rediss")),
        ("http://h", .unsupportedScheme("http")),
        ("redis://", .missingHost),
        ("redis://:pw@:6379", .missingHost),
        ("redis://h:0", .invalidPort("0")),
        ("redis://h:65536", .invalidPort("65536")),
        ("redis://h:port", .invalidPort("port")),
        ("redis://h:", .invalidPort("")),
        ("redis://h/-1", .invalidDatabase("-1")),
        ("redis://h/db", .invalidDatabase("db")),
        ("redis://:%zz@h", .invalidPercentEncoding(part: "password")),
        ("redis://h?timeout=1", .unexpectedQueryOrFragment),
        ("redis://[::1", .invalidHost("[::1")),
    ]

    @Test("malformed URLs are refused with the part that is wrong", arguments: invalid)
    func refusesInvalidURLs(text: String, expected: RedisURLError) {
        #expect(throws: expected) { try RedisURL(parsing: text) }
    }

    @Test("the description and errors never contain the password")
    func redactsPassword() throws {
        let url = try RedisURL(parsing: "redis://:hunter2@127.0.0.1:6379/1")
        #expect(url.description == "redis://:***@127.0.0.1:6379/1")
        #expect(!"\(url)".contains("hunter2"))
        do {
            _ = try RedisURL(parsing: "redis://:hunter2@h:99999")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("the password comes from the named environment variable and replaces the URL's")
    func passwordFromEnvironment() throws {
        let environment = ["PACA_REDIS_PASSWORD": "from-env"]
        let configuration = try RedisTier.Configuration(
            url: "redis://:from-url@127.0.0.1", passwordEnvironmentVariable: "PACA_REDIS_PASSWORD", environment: { environment[$0] })
        #expect(configuration.url.password == "from-env")
        #expect(configuration.passwordEnvironmentVariable == "PACA_REDIS_PASSWORD")
        #expect(throws: RedisURLError.passwordEnvironmentVariableUnset("MISSING")) {
            try RedisTier.Configuration(url: "redis://127.0.0.1", passwordEnvironmentVariable: "MISSING", environment: { _ in nil })
        }
    }

    @Test("configuration defaults match the design")
    func defaults() throws {
        let configuration = try RedisTier.Configuration(url: "redis://127.0.0.1")
        #expect(configuration.namespace == "paca")
        #expect(configuration.timeout == .milliseconds(50))
        #expect(configuration.poolSize == 4)
        #expect(configuration.maxEntryBytes == 1 << 20)
        #expect(configuration.failureThreshold == 5)
        #expect(configuration.openDuration == .seconds(5))
    }
}
