import PacaCore
import PacaReplay
import PacaWarming
import Testing

/// Replays the same synthetic requests without and with warming; every request is measured.
private func compare(
    _ requests: [(key: String, ttl: Int, at: UnixMillis)], maxRequestsPerSecond: Double = 20
) -> (off: WarmingSimulation.Counts, on: WarmingSimulation.Counts) {
    let simulations = [false, true].map { warming in
        var options = WarmingSimulation.Options(l1Bytes: 64 << 20, warming: warming)
        options.trainingMillis = 0
        options.planner.maxRequestsPerSecond = maxRequestsPerSecond
        return WarmingSimulation(options: options)
    }
    for request in requests {
        for simulation in simulations {
            simulation.record(key: request.key, url: "/\(request.key)", ttlSeconds: request.ttl, bytes: 1000, at: request.at)
        }
    }
    for simulation in simulations { simulation.finish() }
    return (simulations[0].measured, simulations[1].measured)
}

private let start: UnixMillis = 1_741_000_000_000

@Suite struct WarmingSimulationTests {
    @Test func refreshAheadKeepsAHotKeyFreshAndCountsItsOriginRequests() {
        // One key every 5 s for two hours, fresh for 60 s: without warming every 12th request misses.
        let requests = (0..<1440).map { (key: "hot", ttl: 60, at: start + Int64($0) * 5000) }
        let (off, on) = compare(requests)
        #expect(off.requests == 1440)
        #expect(off.clientOriginRequests == 120)
        #expect(off.warmingOriginRequests == 0)
        #expect(on.hits > off.hits + 100)
        #expect(on.clientOriginRequests < 10)
        #expect(on.warmingOriginRequests > 100)
        #expect(on.warmingOriginRequests == on.warming.originRequests)
        #expect(on.originRequests == on.clientOriginRequests + on.warmingOriginRequests)
        #expect((on.warming.precision ?? 0) >= 0.75)
    }

    @Test func aColdKeyIsNotWarmed() {
        // Once an hour for a day, fresh for a minute: never worth a fetch ahead.
        let requests = (0..<24).map { (key: "cold", ttl: 60, at: start + Int64($0) * 3_600_000) }
        let (off, on) = compare(requests)
        #expect(off.hits == 0)
        #expect(on.hits == 0)
        #expect(on.warmingOriginRequests == 0)
        #expect(on.warming.warmed == 0)
    }

    @Test func warmingStaysWithinItsRate() {
        // Fifty hot keys, each every 2 s for 20 minutes, fresh for 30 s: more refreshes are
        // wanted than 2 per second allows.
        var requests: [(key: String, ttl: Int, at: UnixMillis)] = []
        for second in stride(from: 0, to: 1200, by: 2) {
            for key in 0..<50 { requests.append((key: "k\(key)", ttl: 30, at: start + Int64(second) * 1000 + Int64(key) * 10)) }
        }
        let (off, on) = compare(requests, maxRequestsPerSecond: 2)
        #expect(on.warmingOriginRequests > 0)
        #expect(on.warmingOriginRequests <= 2 * 1200 + 1)
        #expect(on.hits >= off.hits)
    }
}
