import NIOCore
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaRedis

@Suite("Pipelined Redis connection: many callers on one socket")
struct RedisPipelineTests {
    @Test("concurrent gets of mixed sizes on one pipelined connection each return the caller's own entry")
    func concurrentMixedSizesReturnOwnValues() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        // One worker, so one pipelined connection carries every get at once.
        let tier = try makeTier(server, clock: clock, timeout: .seconds(5), poolSize: 1)
        let now = clock.now()
        let sizes = [0, 1, 17, 1024, 16 * 1024, 16 * 1024 + 1, 70_000, 300_000]
        var entries: [CacheEntry] = []
        for index in 0..<48 {
            let size = sizes[index % sizes.count]
            // Entries of one size differ in every byte, so a value handed to the wrong caller shows.
            var body = ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: size)
            if size >= 4 { body.setInteger(UInt32(index), at: 0) }
            entries.append(makeEntry("k\(index)", body: body, now: now))
        }
        await tier.set(entries)

        let mismatches = await withTaskGroup(of: Int.self) { group in
            for round in 0..<4 {
                for (index, entry) in entries.enumerated() {
                    let key = (index + round) % 5 == 0 ? "absent\(index)" : entry.key
                    group.addTask {
                        let found = await tier.get(key, now: now)
                        if key.hasPrefix("absent") { return found == nil ? 0 : 1 }
                        guard let found, found.key == entry.key, found.body == entry.body else { return 1 }
                        return 0
                    }
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        #expect(await tier.statistics().errors == 0)
        await tier.shutdown()
        await server.stop()
    }

    @Test("requests of several commands, sent concurrently on one pipeline, get their own replies in order")
    func multiCommandRequestsKeepTheirReplies() async throws {
        let server = try await RedisServer()
        let url = try RedisURL(parsing: server.url)
        let pipeline = RedisPipeline(url: url, timeout: .seconds(5), maxQueued: 1024, onConnect: { _ in })
        let failures = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<64 {
                group.addTask {
                    let key = ByteBuffer(string: "pipeline:\(caller)")
                    let value = ByteBuffer(repeating: UInt8(caller), count: caller * 512)
                    let commands: [[ByteBuffer]] = [
                        [ByteBuffer(string: "SET"), key, value], [ByteBuffer(string: "GET"), key],
                        [ByteBuffer(string: "STRLEN"), key], [ByteBuffer(string: "ECHO"), ByteBuffer(string: "#\(caller)")],
                    ]
                    guard let replies = try? await pipeline.run(commands) else { return 1 }
                    let expected: [RedisReply] = [
                        .status("OK"), .bulk(value), .integer(Int64(caller * 512)), .bulk(ByteBuffer(string: "#\(caller)")),
                    ]
                    return replies == expected ? 0 : 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
        pipeline.close()
        await pipeline.waitUntilClosed()
        await #expect(throws: RedisError.shutDown) { try await pipeline.run([[ByteBuffer(string: "PING")]]) }
        await server.stop()
    }

    @Test("a request larger than the socket takes at once is finished by the I/O thread, and requests behind it keep their order")
    func largeWriteGoesThroughTheOutbox() async throws {
        let server = try await RedisServer()
        let url = try RedisURL(parsing: server.url)
        let pipeline = RedisPipeline(url: url, timeout: .seconds(10), maxQueued: 1024, onConnect: { _ in })
        #expect(try await pipeline.run([[ByteBuffer(string: "PING")]]) == [.status("PONG")])
        // 16 MiB: more than a loopback socket buffers, so the caller's write stops part-way.
        let big = ByteBuffer(repeating: 0x42, count: 16 << 20)
        let results = await withTaskGroup(of: (Int, [RedisReply]?).self) { group in
            group.addTask { (-1, try? await pipeline.run([[ByteBuffer(string: "SET"), ByteBuffer(string: "big"), big]])) }
            for index in 0..<32 {
                group.addTask { (index, try? await pipeline.run([[ByteBuffer(string: "ECHO"), ByteBuffer(string: "small \(index)")]])) }
            }
            return await group.reduce(into: [Int: [RedisReply]?]()) { $0[$1.0] = $1.1 }
        }
        #expect(results[-1] == [.status("OK")])
        for index in 0..<32 { #expect(results[index] == [.bulk(ByteBuffer(string: "small \(index)"))]) }
        #expect(try await pipeline.run([[ByteBuffer(string: "STRLEN"), ByteBuffer(string: "big")]]) == [.integer(16 << 20)])
        pipeline.close()
        await pipeline.waitUntilClosed()
        await server.stop()
    }

    @Test("gets waiting on a connection that dies fail at once, long before the timeout, and the breaker counts each")
    func requestsOnADyingConnectionFailFast() async throws {
        let server = try await RedisServer()
        let clock = ManualWallClock()
        let tier = try makeTier(server, clock: clock, timeout: .seconds(30), poolSize: 1, failureThreshold: 4)
        await tier.set(makeEntry("k", now: clock.now()))
        #expect(await tier.get("k", now: clock.now()) != nil)

        // Stopped, the server leaves the gets on the wire unanswered; killed, its socket closes.
        server.pause()
        let gets = Task {
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { await tier.get("k", now: clock.now()) != nil } }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
        }
        guard case .single(let pool) = tier.backend else {
            Issue.record("a single-server tier")
            return
        }
        let patience = ContinuousClock.now + .seconds(10)
        while pool.inflightRequests < 4 && ContinuousClock.now < patience { await Task.yield() }
        #expect(pool.inflightRequests == 4, "the four gets are on the wire")
        let started = ContinuousClock.now
        await server.kill()
        let results = await gets.value
        let elapsed = started.duration(to: .now)
        #expect(!results.contains(true))
        #expect(elapsed < .seconds(10), "failed by the dead socket, not by the 30 s timeout")
        let statistics = await tier.statistics()
        #expect(statistics.errors >= 4)
        #expect(tier.breakerState == "open")
        await tier.shutdown()
    }

    @Test("a request not answered within the timeout fails with .timeout, and the next one reconnects")
    func timeoutDropsTheSocketAndReconnects() async throws {
        let server = try await RedisServer()
        let url = try RedisURL(parsing: server.url)
        let timeout = Duration.milliseconds(150)
        let pipeline = RedisPipeline(url: url, timeout: timeout, maxQueued: 16, onConnect: { _ in })
        #expect(try await pipeline.run([[ByteBuffer(string: "PING")]]) == [.status("PONG")])
        server.pause()
        let started = ContinuousClock.now
        await #expect(throws: RedisError.timeout) { try await pipeline.run([[ByteBuffer(string: "PING")]]) }
        let elapsed = started.duration(to: .now)
        #expect(elapsed >= timeout)
        #expect(elapsed < .seconds(5))
        server.resume()
        #expect(
            try await pipeline.run([[ByteBuffer(string: "ECHO"), ByteBuffer(string: "after")]]) == [.bulk(ByteBuffer(string: "after"))])
        pipeline.close()
        await pipeline.waitUntilClosed()
        await server.stop()
    }

    @Test("commands are encoded as RESP arrays of bulk strings, binary-safe")
    func encodesRESP() {
        let encoded = RedisPipeline.encode([
            [ByteBuffer(string: "GET"), ByteBuffer(string: "k")],
            [ByteBuffer(string: "SET"), ByteBuffer(bytes: [0, 13, 10]), ByteBuffer()],
        ])
        #expect(String(buffer: encoded) == "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$3\r\n\u{0}\r\n\r\n$0\r\n\r\n")
    }
}

@Suite("The request queue of a pipelined connection (no I/O)")
struct RedisRequestQueueTests {
    private func request(_ tag: String, expected: Int = 1) -> RedisRequestQueue.Request {
        RedisRequestQueue.Request(bytes: ByteBuffer(string: tag), expected: expected, deadline: .now + .seconds(60), completion: { _ in })
    }

    @Test("the first request asks for a connection, later ones wait; connecting sends them in order")
    func connectsOnceAndSendsInOrder() {
        var queue = RedisRequestQueue(limit: 8)
        guard case .wake = queue.submit(request("a")) else {
            Issue.record("the first request must wake the I/O thread")
            return
        }
        guard case .none = queue.submit(request("b")) else {
            Issue.record("a request while connecting must just wait")
            return
        }
        #expect(queue.link == .connecting)
        let bytes = queue.connected(fd: 7)
        #expect(String(buffer: bytes) == "ab")
        #expect(queue.inflight.count == 2)
        guard case .write(fd: 7) = queue.submit(request("c")) else {
            Issue.record("connected and idle: the caller writes")
            return
        }
    }

    @Test("replies complete requests in wire order, a request of several commands only when all arrived")
    func repliesCompleteInOrder() {
        var queue = RedisRequestQueue(limit: 8)
        _ = queue.submit(request("a", expected: 2))
        _ = queue.connected(fd: 3)
        _ = queue.submit(request("b"))
        #expect(queue.received([.integer(1)])?.count == 0)
        let completed = queue.received([.integer(2), .integer(3)]) ?? []
        #expect(completed.map { String(buffer: $0.bytes) } == ["a", "b"])
        #expect(completed.map(\.replies) == [[.integer(1), .integer(2)], [.integer(3)]])
        #expect(queue.received([.null]) == nil, "a reply nobody asked for is a fault")
    }

    @Test("behind bytes the socket would not take, a request queues in the outbox instead of writing")
    func queuesBehindTheOutbox() {
        var queue = RedisRequestQueue(limit: 8)
        _ = queue.submit(request("a"))
        _ = queue.connected(fd: 3)
        queue.outbox.writeString("rest-of-a")
        guard case .none = queue.submit(request("b")) else {
            Issue.record("must not write past the outbox")
            return
        }
        #expect(String(buffer: queue.outbox) == "rest-of-ab")
    }

    @Test("full, a request is refused as overloaded; closing, as shut down; a dropped socket fails what was on it")
    func refusesAndDrops() {
        var queue = RedisRequestQueue(limit: 2)
        _ = queue.submit(request("a"))
        _ = queue.connected(fd: 3)
        _ = queue.submit(request("b"))
        guard case .fail(.overloaded) = queue.submit(request("c")) else {
            Issue.record("over the limit must be refused")
            return
        }
        let failed = queue.dropped()
        #expect(failed.map { String(buffer: $0.bytes) } == ["a", "b"])
        #expect(queue.link == .disconnected)
        queue.admission = .closing
        guard case .fail(.shutDown) = queue.submit(request("d")) else {
            Issue.record("closing must refuse")
            return
        }
    }
}
