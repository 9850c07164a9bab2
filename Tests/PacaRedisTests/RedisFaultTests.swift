import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

@Suite("L3 Redis tier when Redis dies and comes back")
struct RedisFaultTests {
    @Test("Redis killed: lookups miss within the timeout, the breaker opens and is logged once; restarted: the probe closes it")
    func breakerOpensAndRecovers() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let recorder = CapturedLog()
        let timeout = Duration.milliseconds(250)
        let tier = try makeTier(server, clock: clock, timeout: timeout, failureThreshold: 3, logger: recorder.logger)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(await tier.get("k", now: clock.now()) != nil)

        await server.kill()
        for _ in 0..<3 {
            let started = ContinuousClock.now
            #expect(await tier.get("k", now: clock.now()) == nil)
            // A refused connection fails at once; the bound only proves nothing hangs (a loaded
            // CI machine must not turn this into a timing test).
            #expect(started.duration(to: .now) < .seconds(5))
        }
        #expect(tier.breakerState == "open")
        // Open: Redis is not asked; writes are dropped.
        let errorsBefore = await tier.statistics().errors
        #expect(await tier.get("k", now: clock.now()) == nil)
        await tier.set(makeEntry("dropped", now: clock.now()))
        #expect(await tier.statistics().errors == errorsBefore + 2)

        try await server.restart()
        // Still open until openDuration has passed on the injected clock.
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(tier.breakerState == "open")

        clock.advance(by: .seconds(5))
        // The probe reaches the (empty) restarted server and succeeds.
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(tier.breakerState == "closed")
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(await tier.get("k", now: clock.now()) != nil)

        #expect(recorder.count(.warning, containing: "circuit breaker open") == 1)
        #expect(recorder.count(.info, containing: "half-open") == 1)
        #expect(recorder.count(.info, containing: "circuit breaker closed") == 1)
        #expect(!recorder.all.joined().contains(server.password))
        await tier.shutdown()
        await server.stop()
    }

    @Test("a Redis that stops answering costs one timeout per lookup until the breaker opens")
    func unresponsiveRedisTimesOut() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let timeout = Duration.milliseconds(100)
        let tier = try makeTier(server, clock: clock, timeout: timeout, poolSize: 1, failureThreshold: 2)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(await tier.get("k", now: clock.now()) != nil)

        server.pause()
        for _ in 0..<2 {
            let started = ContinuousClock.now
            #expect(await tier.get("k", now: clock.now()) == nil)
            let elapsed = started.duration(to: .now)
            #expect(elapsed >= timeout)
            #expect(elapsed < .seconds(5))
        }
        #expect(tier.breakerState == "open")
        // Open: the lookup is skipped (counted as one error) and the breaker stays open: no
        // probe reached the paused server.
        let errorsWhileOpen = await tier.statistics().errors
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(await tier.statistics().errors == errorsWhileOpen + 1)
        #expect(tier.breakerState == "open")

        server.resume()
        clock.advance(by: .seconds(5))
        #expect(await tier.get("k", now: clock.now()) != nil)
        #expect(tier.breakerState == "closed")
        await tier.shutdown()
        await server.stop()
    }

    @Test("a probe that fails opens the breaker again for another openDuration")
    func failedProbeReopens() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, failureThreshold: 2)
        await server.kill()
        _ = await tier.get("a", now: clock.now())
        _ = await tier.get("a", now: clock.now())
        #expect(tier.breakerState == "open")
        clock.advance(by: .seconds(5))
        #expect(await tier.get("a", now: clock.now()) == nil)
        #expect(tier.breakerState == "open")
        clock.advance(by: .seconds(4))
        #expect(await tier.get("a", now: clock.now()) == nil)
        #expect(tier.breakerState == "open")
        await tier.shutdown()
        await server.stop()
    }

    @Test("the breaker's log lines say when L3 is retried as an RFC 3339 UTC time, not epoch milliseconds")
    func breakerLogsReadableRetryTime() async throws {
        let port = ClosedPort()
        let clock = ManualWallClock(start: 1_767_225_600_000)  // 2026-01-01T00:00:00.000Z
        let recorder = CapturedLog()
        let configuration = try RedisTier.Configuration(
            url: "redis://127.0.0.1:\(port.port)", timeout: .milliseconds(250), poolSize: 1, failureThreshold: 1,
            openDuration: .seconds(5))
        let tier = RedisTier(configuration: configuration, clock: clock, logger: recorder.logger)
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(tier.breakerState == "open")
        clock.advance(by: .seconds(5))
        // The probe fails too: the breaker reopens for another five seconds.
        #expect(await tier.get("k", now: clock.now()) == nil)
        await tier.shutdown()
        #expect(recorder.count(.warning, containing: "retry_at=2026-01-01T00:00:05.000Z") == 1, "\(recorder.all)")
        #expect(recorder.count(.warning, containing: "retry_at=2026-01-01T00:00:10.000Z") == 1, "\(recorder.all)")
        #expect(!recorder.all.joined().contains("retry_at_ms"))
    }

    @Test("a probe that ends without a verdict (the pool shut down) does not leave the breaker half-open")
    func abandonedProbeDoesNotStick() async throws {
        let port = ClosedPort()
        let clock = ManualWallClock()
        let recorder = CapturedLog()
        let configuration = try RedisTier.Configuration(
            url: "redis://127.0.0.1:\(port.port)", timeout: .milliseconds(250), poolSize: 1, failureThreshold: 1,
            openDuration: .seconds(5))
        let tier = RedisTier(configuration: configuration, clock: clock, logger: recorder.logger)
        // A refused connection opens the breaker (threshold 1).
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(tier.breakerState == "open")

        // With the pool shut down, the probe is refused with `.shutDown`: no verdict on Redis.
        await tier.shutdown()
        clock.advance(by: .seconds(5))
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(tier.breakerState == "open", "not stuck half-open")
        // The next operation is let through as a probe again instead of being skipped for good.
        #expect(await tier.get("k", now: clock.now()) == nil)
        #expect(recorder.count(.info, containing: "half-open") == 2)
        #expect(tier.breakerState == "open")
    }
}
