import Benchmark
import NIOCore
import NIOHTTP1
import PacaCore
import PacaEngine
import PacaStorage

/// L1 and key-derivation micro-benchmarks. Goal (issue 2): an L1 get-hit under 250 ns median
/// with zero allocations.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )
    diskBenchmarks()
    redisBenchmarks()
    redisLoopBenchmarks()
    admissionBenchmarks()
    coalescerBenchmarks()
    hitPathBenchmarks()

    let keys = (0..<10_000).map { "v1|http://127.0.0.1:9000|/api/users/\($0)?id=\($0)&page=1|0123456789abcdef" }

    for policy in [EvictionPolicy.lru, .tinyLFU] {
        Benchmark("L1 get-hit (1 KiB entry, \(policy.rawValue))", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let cache = MemoryCache(maxBytes: 256 << 20, policy: policy)
            for key in keys { cache.set(benchmarkEntry(key, bodyBytes: 1024)) }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                blackHole(cache.get(keys[index % keys.count], now: 1))
            }
        }

        Benchmark("L1 set (1 KiB entry, steady state, \(policy.rawValue))", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let cache = MemoryCache(maxBytes: 4 << 20, policy: policy)
            let entries = keys.map { benchmarkEntry($0, bodyBytes: 1024) }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                blackHole(cache.set(entries[index % entries.count]))
            }
        }
    }

    let route = Route(
        name: "users", match: "/api/users/*", origin: Origin(url: "http://127.0.0.1:9000")!, keyQuery: .exclude(["utm_source"]))

    Benchmark("key derivation (parse target, sort query, build key)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            let target = try! RequestTarget.parse("/api/users/42?page=2&id=42&utm_source=mail")
            let query = CacheKeyBuilder.keyedQuery(target.query, rule: route.keyQuery)
            blackHole(CacheKeyBuilder.key(route: route, host: route.origin.authority, path: target.path, keyedQuery: query))
        }
    }
}

/// A stored response of `bodyBytes` bytes under `key`, fresh for a minute, kept forever.
func benchmarkEntry(_ key: String, bodyBytes: Int) -> CacheEntry {
    CacheEntry(
        key: key, status: 200,
        headers: [.init(name: "Content-Type", value: "application/json"), .init(name: "Cache-Control", value: "max-age=60")],
        body: ByteBuffer(repeating: 0x61, count: bodyBytes),
        timing: EntryTiming(requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: .max))
}
