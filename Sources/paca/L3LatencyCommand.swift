import ArgumentParser
import NIOCore
import NIOPosix
import PacaCore
import PacaRedis

/// `paca l3-latency`: the latency of an L3 get as the proxy sees it — `RedisTier.get`, from the
/// call to the decoded entry — for one stored entry of a given body size. Not part of the user
/// contract: `bench/l3-latency.sh` runs it beside `redis-benchmark` on the same server.
///
/// `--path loop` (the default) gets from an event loop, as the proxy's lookups do
/// (`get(_:now:on:)`, the loop's own connection); `--path pool` awaits the async `get` from a
/// task (the library's path, through the pipelined connections' threads).
struct L3LatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l3-latency",
        abstract: "Measure the latency of L3 (Redis) gets of one entry (for bench/l3-latency.sh).",
        shouldDisplay: false)

    @Option(help: "The Redis URL, as in routes.json.")
    var redis: String?

    @Option(help: "Seed nodes of a Redis Cluster, host:port,host:port (instead of --redis).")
    var cluster: String?

    @Option(help: "Body size of the entry in bytes.")
    var size = 16384

    @Option(help: "Measured gets.")
    var count = 20000

    @Option(help: "Gets before measuring (connect, warm caches).")
    var warmup = 1000

    @Option(help: "Callers getting at once, each sequentially; 1 is one sequential client.")
    var concurrency = 1

    @Option(help: "Connections in the tier's pool.")
    var poolSize = 4

    @Option(help: "loop: gets from an event loop, as the proxy makes them; pool: the async get from a task.")
    var path = "loop"

    func validate() throws {
        guard (redis == nil) != (cluster == nil) else { throw ValidationError("give either --redis or --cluster") }
        guard path == "loop" || path == "pool" else { throw ValidationError("--path is loop or pool") }
    }

    func run() async throws {
        let configuration =
            if let cluster {
                try RedisTier.Configuration(
                    cluster: cluster.split(separator: ",").map(String.init), namespace: "paca-l3-latency", timeout: .seconds(1),
                    poolSize: poolSize)
            } else {
                try RedisTier.Configuration(
                    url: redis ?? "", namespace: "paca-l3-latency", timeout: .seconds(1), poolSize: poolSize)
            }
        let tier = RedisTier(configuration: configuration)
        let clock = SystemWallClock()
        let now = clock.now()
        let key = "v1|http://bench.invalid/l3-latency?size=\(size)"
        let entry = CacheEntry(
            key: key, status: 200, headers: [],
            body: ByteBuffer(repeating: 0x61, count: size),
            timing: EntryTiming(
                requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 3_600_000,
                storageExpiry: now + 3_600_000))
        await tier.set(entry)
        guard await tier.get(key, now: now) != nil else {
            printError("the entry could not be stored in or read back from \(configuration.url)")
            await tier.shutdown()
            throw ExitCode(1)
        }
        let samples: [Int64]
        var group: MultiThreadedEventLoopGroup?
        if path == "loop" {
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            group = loops
            let loop = loops.next()
            _ = try await LoopGets.run(tier, key: key, size: size, now: now, count: warmup, concurrency: 1, on: loop)
            samples = try await LoopGets.run(tier, key: key, size: size, now: now, count: count, concurrency: concurrency, on: loop)
        } else {
            for _ in 0..<warmup { _ = await tier.get(key, now: now) }
            samples = await poolGets(tier, key: key, now: now)
        }
        await tier.remove(key)
        // The loop's connection closes with the tier, then the loop ends.
        await tier.shutdown()
        try await group?.shutdownGracefully()

        let sorted = samples.sorted()
        func percentile(_ fraction: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1000
        }
        let mean = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        say(
            "l3-get size=\(size) n=\(sorted.count) concurrency=\(concurrency) p50_us=\(format(percentile(0.5))) p99_us=\(format(percentile(0.99))) mean_us=\(format(mean))"
        )
    }

    /// `count` gets awaited from tasks, `concurrency` callers at once, each sequentially.
    private func poolGets(_ tier: RedisTier, key: String, now: UnixMillis) async -> [Int64] {
        let perCaller = max(1, count / max(1, concurrency))
        let size = size
        return await withTaskGroup(of: [Int64].self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    var samples: [Int64] = []
                    samples.reserveCapacity(perCaller)
                    for _ in 0..<perCaller {
                        let started = ContinuousClock.now
                        let found = await tier.get(key, now: now)
                        let elapsed = started.duration(to: .now)
                        precondition(found?.body.readableBytes == size, "an L3 get missed during the measurement")
                        samples.append(Self.nanoseconds(elapsed))
                    }
                    return samples
                }
            }
            var all: [Int64] = []
            for await part in group { all += part }
            return all
        }
    }

    private func format(_ value: Double) -> String {
        String(Double(Int(value * 10)) / 10)
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Gets made on one event loop, as the proxy makes them: `concurrency` chains, each starting
/// its next get when the last one completes.
///
/// `@unchecked Sendable`: every stored property is read and written only on `loop`.
private final class LoopGets: @unchecked Sendable {
    let tier: RedisTier
    let key: String
    let size: Int
    let now: UnixMillis
    let loop: any EventLoop
    var remaining: Int
    var running: Int
    var samples: [Int64] = []
    let done: EventLoopPromise<[Int64]>

    private init(_ tier: RedisTier, key: String, size: Int, now: UnixMillis, count: Int, concurrency: Int, on loop: any EventLoop) {
        self.tier = tier
        self.key = key
        self.size = size
        self.now = now
        self.loop = loop
        self.remaining = count
        self.running = concurrency
        self.done = loop.makePromise()
        samples.reserveCapacity(count)
    }

    static func run(
        _ tier: RedisTier, key: String, size: Int, now: UnixMillis, count: Int, concurrency: Int, on loop: any EventLoop
    ) async throws -> [Int64] {
        let gets = LoopGets(tier, key: key, size: size, now: now, count: count, concurrency: max(1, concurrency), on: loop)
        loop.execute {
            for _ in 0..<gets.running { gets.next() }
        }
        return try await gets.done.futureResult.get()
    }

    private func next() {
        guard remaining > 0 else {
            running -= 1
            if running == 0 { done.succeed(samples) }
            return
        }
        remaining -= 1
        let started = ContinuousClock.now
        tier.get(key, now: now, on: loop).assumeIsolated().whenComplete { [self] result in
            let elapsed = started.duration(to: .now)
            guard case .success(let found) = result, found?.body.readableBytes == size else {
                done.fail(L3LatencyError.missed)
                return
            }
            samples.append(L3LatencyCommand.nanoseconds(elapsed))
            next()
        }
    }
}

private enum L3LatencyError: Error, CustomStringConvertible {
    case missed

    var description: String { "an L3 get missed during the measurement" }
}
