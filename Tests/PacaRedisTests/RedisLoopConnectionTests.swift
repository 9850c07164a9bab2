import NIOCore
import NIOPosix
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

@Suite("L3 gets on an event loop's own Redis connection (real redis-server)", .timeLimit(.minutes(1)))
struct RedisLoopConnectionTests {
    /// Runs `body` on `loop` and returns what its future gives.
    private func onLoop<Value: Sendable>(
        _ loop: any EventLoop, _ body: @escaping @Sendable () -> EventLoopFuture<Value>
    ) async throws -> Value {
        try await loop.flatSubmit(body).get()
    }

    @Test("concurrent gets made on a loop go out on that loop's connection, complete on the loop, and each gets its own entry")
    func concurrentGetsOnTheLoop() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, timeout: .seconds(5), poolSize: 1)
        let now = clock.now()
        let sizes = [0, 1, 1024, 16 * 1024 + 1, 70_000, 300_000]
        var entries: [CacheEntry] = []
        for index in 0..<36 {
            var body = ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: sizes[index % sizes.count])
            if body.readableBytes >= 4 { body.setInteger(UInt32(index), at: 0) }
            entries.append(makeEntry("k\(index)", body: body, now: now))
        }
        await tier.set(entries)

        let expected = entries
        let outcomes = try await onLoop(loop) { () -> EventLoopFuture<[Bool]> in
            // Every get is written before the first reply is read: they share the wire.
            let futures = (0..<expected.count * 2).map { round -> EventLoopFuture<Bool> in
                let index = round % expected.count
                let key = round % 7 == 3 ? "absent\(round)" : expected[index].key
                return tier.get(key, now: now, on: loop).map { found in
                    guard loop.inEventLoop else { return false }
                    if key.hasPrefix("absent") { return found == nil }
                    return found?.key == expected[index].key && found?.body == expected[index].body
                }
            }
            return EventLoopFuture.whenAllSucceed(futures, on: loop)
        }
        #expect(outcomes.count == 72)
        #expect(outcomes.allSatisfy { $0 })
        // They went through the loop's own connection, which is now connected and idle.
        let connection = try #require(tier.loopConnections?.connection(on: loop))
        #expect(try await loop.submit { connection.isReady && connection.outstandingRequests == 0 }.get())
        let statistics = await tier.statistics()
        #expect(statistics.errors == 0)
        #expect(statistics.hits + statistics.misses == 72)
        await tier.shutdown()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("the loop's connection logs in and selects the URL's database before any get goes out")
    func logsInAndSelects() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let configuration = try RedisTier.Configuration(
            url: "redis://:\(server.password)@127.0.0.1:\(server.port)/3", namespace: "paca", timeout: .seconds(5), poolSize: 1)
        let tier = RedisTier(configuration: configuration, clock: clock)
        let entry = makeEntry("in-db-3", now: clock.now())
        await tier.set(entry)
        // Written through the thread pool into database 3; found on the loop only if it selected 3 too.
        let found = try await onLoop(loop) { tier.get("in-db-3", now: clock.now(), on: loop) }
        #expect(found?.body == entry.body)
        await tier.shutdown()

        let refused = try RedisURL(parsing: "redis://:wrong-\(server.password)@127.0.0.1:\(server.port)/0")
        let connection = try #require(RedisLoopConnection(eventLoop: loop, url: refused, timeout: .seconds(5), maxQueued: 16))
        let error = await #expect(throws: RedisError.self) {
            try await onLoop(loop) { connection.send([[ByteBuffer(string: "PING")]]) }
        }
        guard case .authenticationFailed = error else {
            Issue.record("expected authenticationFailed, got \(String(describing: error))")
            return
        }
        #expect(!"\(String(describing: error))".contains(server.password))
        connection.close()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("a Redis that stops answering fails the loop's gets at their deadline, opens the breaker, and the connection comes back")
    func pausedRedisTimesOutThenRecovers() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let timeout = Duration.milliseconds(100)
        let tier = try makeTier(server, clock: clock, timeout: timeout, poolSize: 1, failureThreshold: 2)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } != nil)

        server.pause()
        for _ in 0..<2 {
            let started = ContinuousClock.now
            #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } == nil)
            let elapsed = started.duration(to: .now)
            #expect(elapsed >= timeout)
            #expect(elapsed < .seconds(5))
        }
        #expect(tier.breakerState == "open")
        // Open: skipped at once, nothing written.
        let connection = try #require(tier.loopConnections?.connection(on: loop))
        #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } == nil)
        #expect(try await loop.submit { connection.outstandingRequests }.get() == 0)

        server.resume()
        clock.advance(by: .seconds(5))
        // The timed-out connection was dropped; the probe connects again.
        #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } != nil)
        #expect(tier.breakerState == "closed")
        await tier.shutdown()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("Redis restarted: the loop's connection sees the close and connects again")
    func reconnectsAfterRestart() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let url = try RedisURL(parsing: server.url)
        let connection = try #require(RedisLoopConnection(eventLoop: loop, url: url, timeout: .seconds(2), maxQueued: 16))
        let ping = [[ByteBuffer(string: "PING")]]
        #expect(try await onLoop(loop) { connection.send(ping) } == [.status("PONG")])

        try await server.restart()
        // The first request after the restart may still meet the old socket (its close not read
        // yet) and fail with an I/O error; the one after that connects anew.
        var replies: [RedisReply]?
        for _ in 0..<3 where replies == nil {
            replies = try? await onLoop(loop) { connection.send(ping) }
        }
        #expect(replies == [.status("PONG")])
        connection.close()
        await #expect(throws: RedisError.shutDown) { try await onLoop(loop) { connection.send(ping) } }
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("requests beyond the connection's limit fail at once with overloaded; those within it are answered")
    func boundedOutstandingRequests() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let url = try RedisURL(parsing: server.url)
        let connection = try #require(RedisLoopConnection(eventLoop: loop, url: url, timeout: .seconds(5), maxQueued: 4))
        let results = try await onLoop(loop) { () -> EventLoopFuture<[Result<[RedisReply], any Error>]> in
            let futures = (0..<6).map { index in
                connection.send([[ByteBuffer(string: "ECHO"), ByteBuffer(string: "#\(index)")]])
            }
            return EventLoopFuture.whenAllComplete(futures, on: loop)
        }
        for (index, result) in results.enumerated() {
            if index < 4 {
                #expect((try? result.get()) == [.bulk(ByteBuffer(string: "#\(index)"))])
            } else {
                #expect(throws: RedisError.overloaded) { try result.get() }
            }
        }
        connection.close()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("a get for a loop made from off that loop goes through the thread pool, finds the entry and opens no loop connection")
    func offLoopCallerFallsBack() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, timeout: .seconds(5), poolSize: 1)
        let entry = makeEntry("k", now: clock.now())
        await tier.set(entry)
        let found = try await tier.get("k", now: clock.now(), on: loop).get()
        #expect(found?.body == entry.body)
        let connection = try #require(tier.loopConnections?.connection(on: loop))
        #expect(try await loop.submit { connection.isReady }.get() == false)
        await tier.shutdown()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("a tier shut down after the loops its gets came from are gone returns, without waiting on those loops")
    func shutdownAfterTheLoopsEnded() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, timeout: .seconds(5), poolSize: 1)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } != nil)
        let connection = try #require(tier.loopConnections?.connection(on: loop))
        #expect(connection.needsLoopToClose)
        try await group.shutdownGracefully()
        // The loop closed the channel as it shut down: closing needs no task on the dead loop.
        #expect(!connection.needsLoopToClose)
        await tier.shutdown()
        await server.stop()
    }

    @Test("requests on the wire when the connection shuts down fail as shut down, which no breaker counts")
    func shutdownFailsInflightAsShutDown() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let url = try RedisURL(parsing: server.url)
        let connection = try #require(RedisLoopConnection(eventLoop: loop, url: url, timeout: .seconds(5), maxQueued: 16))
        let ping = [[ByteBuffer(string: "PING")]]
        #expect(try await onLoop(loop) { connection.send(ping) } == [.status("PONG")])
        server.pause()
        let pending = try await loop.submit { connection.send(ping) }.get()
        connection.close()
        await #expect(throws: RedisError.shutDown) { try await pending.get() }
        server.resume()
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test("a connection that breaks with many gets on it weighs on the breaker as one failure, while each get still counts as an error")
    func brokenChannelCountsOnce() async throws {
        let server = try await RedisServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, timeout: .seconds(5), poolSize: 1, failureThreshold: 3)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } != nil)
        let errorsBefore = await tier.statistics().errors

        // Eight gets on the wire of a server that does not answer, then the server dies.
        server.pause()
        let gets = try await loop.submit { (0..<8).map { _ in tier.get("k", now: clock.now(), on: loop) } }.get()
        await server.kill()
        for get in gets { #expect(try await get.get() == nil) }
        #expect(tier.breakerState == "closed")
        #expect(await tier.statistics().errors == errorsBefore + 8)

        // Separate breaks each count: the next gets find no server, connect by connect.
        for _ in 0..<3 { #expect(try await onLoop(loop) { tier.get("k", now: clock.now(), on: loop) } == nil) }
        #expect(tier.breakerState == "open")
        await tier.shutdown()
        try await group.shutdownGracefully()
        await server.stop()
    }
}
