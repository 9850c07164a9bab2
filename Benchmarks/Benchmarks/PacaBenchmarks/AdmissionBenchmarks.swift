import Benchmark
import NIOCore
import PacaCore
import PacaStorage

/// L1 admission: hit ratios of LRU and W-TinyLFU on a Zipf(0.9) trace with 20% one-time scan keys
/// at 1% and 10% of the trace's distinct bytes (custom metrics in basis points, 10 000 = every
/// request a hit), and the L1 get-hit under tinyLFU (goal as for LRU: under 250 ns median, zero
/// allocations — the sketch is sized at init).
let admissionBenchmarks: @Sendable () -> Void = {
    for percent in [1, 10] {
        let lruMetric = BenchmarkMetric.custom("hit ratio LRU (bp)", polarity: .prefersLarger, useScalingFactor: false)
        let tinyLFUMetric = BenchmarkMetric.custom("hit ratio tinyLFU (bp)", polarity: .prefersLarger, useScalingFactor: false)
        Benchmark(
            "L1 hit ratio, Zipf 0.9 + 20% scans, cache \(percent)% of distinct bytes",
            configuration: .init(
                metrics: [.wallClock, lruMetric, tinyLFUMetric], warmupIterations: 0, maxDuration: .seconds(60), maxIterations: 1)
        ) { benchmark in
            let (trace, distinct) = (admissionTrace.requests, admissionTrace.distinctBytes)
            let budget = distinct * percent / 100
            let lru = TraceReplay.run(trace, on: MemoryCache(maxBytes: budget, policy: .lru))
            let tinyLFU = TraceReplay.run(trace, on: MemoryCache(maxBytes: budget, policy: .tinyLFU))
            benchmark.measurement(lruMetric, Int((lru.hitRatio * 10_000).rounded()))
            benchmark.measurement(tinyLFUMetric, Int((tinyLFU.hitRatio * 10_000).rounded()))
            print("cache \(percent)% of \(distinct) distinct bytes: hit ratio LRU \(lru.hitRatio), tinyLFU \(tinyLFU.hitRatio)")
        }
    }
}

/// The trace, built on first use (a global `let` is lazy), so running other benchmarks does not
/// pay for it.
private let admissionTrace: (requests: [TraceRequest], distinctBytes: Int) = {
    let requests = SyntheticTrace.zipfWithScans(keys: 100_000, exponent: 0.9, scanFraction: 0.2, length: 1_000_000, seed: 2026)
    return (requests, TraceReplay.distinctBytes(of: requests))
}()
