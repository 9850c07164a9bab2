import Logging
import NIOCore
import PacaCore
import PacaHTTPCaching
import PacaTestSupport
import Synchronization

@testable import PacaRedis

/// An entry whose storage lifetime ends `lifetime` ms after `now`.
func makeEntry(
    _ key: String, body: ByteBuffer = ByteBuffer(string: "hello"), now: UnixMillis, lifetime: Int64 = 60_000, headers: [HTTPField] = []
)
    -> CacheEntry
{
    CacheEntry(
        key: key, status: 200,
        headers: headers.isEmpty ? [HTTPField(name: "Content-Type", value: "application/json")] : headers,
        body: body,
        timing: EntryTiming(
            requestTime: now - 5, responseTime: now, correctedInitialAge: 0, freshnessLifetime: lifetime / 2, staleIfError: 1000,
            mustRevalidate: true, storageExpiry: now + lifetime),
        etag: "\"v1\"", lastModified: "Wed, 21 Oct 2015 07:28:00 GMT")
}

/// A tier on `server` with test-friendly settings.
func makeTier(
    _ server: RedisServer, namespace: String = "paca", clock: ManualWallClock = ManualWallClock(), timeout: Duration = .milliseconds(250),
    poolSize: Int = 2, maxEntryBytes: Int = 1 << 20, failureThreshold: Int = 3, sealer: (any EntrySealer)? = nil,
    logger: Logger = Logger(label: "test.redis")
) throws -> RedisTier {
    let configuration = try RedisTier.Configuration(
        url: server.url, namespace: namespace, timeout: timeout, poolSize: poolSize, maxEntryBytes: maxEntryBytes,
        failureThreshold: failureThreshold, openDuration: .seconds(5))
    return RedisTier(configuration: configuration, clock: clock, sealer: sealer, logger: logger)
}
