import ArgumentParser
import NIOCore
import PacaCore
import PacaRedis

/// `paca l3-latency`: the latency of an L3 get as the proxy sees it — `RedisTier.get`, from the
/// call to the decoded entry — for one stored entry of a given body size. Not part of the user
/// contract: `bench/l3-latency.sh` runs it beside `redis-benchmark` on the same server.
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

    func validate() throws {
        guard (redis == nil) != (cluster == nil) else { throw ValidationError("give either --redis or --cluster") }
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
        for _ in 0..<warmup { _ = await tier.get(key, now: now) }

        let perCaller = max(1, count / max(1, concurrency))
        let samples = await withTaskGroup(of: [Int64].self) { group in
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
        await tier.remove(key)
        await tier.shutdown()

        let sorted = samples.sorted()
        func percentile(_ fraction: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1000
        }
        let mean = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        say(
            "l3-get size=\(size) n=\(sorted.count) concurrency=\(concurrency) p50_us=\(format(percentile(0.5))) p99_us=\(format(percentile(0.99))) mean_us=\(format(mean))"
        )
    }

    private func format(_ value: Double) -> String {
        String(Double(Int(value * 10)) / 10)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
