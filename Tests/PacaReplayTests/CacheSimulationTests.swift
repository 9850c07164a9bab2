import Foundation
import PacaAccessLog
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaReplay
import PacaStorage
import Testing

/// A deterministic Zipf-ish trace of `length` keys over `keys` objects (SplitMix64-like LCG).
private func zipfTrace(keys: Int, length: Int, seed: UInt64) -> [Int] {
    var state = seed
    var weights: [Double] = []
    var total = 0.0
    for rank in 1...keys {
        total += 1 / Double(rank)
        weights.append(total)
    }
    return (0..<length).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let target = Double(state >> 11) / Double(1 << 53) * total
        return weights.firstIndex { $0 >= target } ?? keys - 1
    }
}

/// Textbook LRU (or FIFO) over unit-size objects: the reference `simulate` must match exactly.
private func referenceHits(_ trace: [Int], capacity: Int, fifo: Bool) -> Int {
    var order: [Int] = []  // most recent last
    var hits = 0
    for key in trace {
        if let index = order.firstIndex(of: key) {
            hits += 1
            if !fifo {
                order.remove(at: index)
                order.append(key)
            }
        } else {
            if order.count == capacity { order.removeFirst() }
            order.append(key)
        }
    }
    return hits
}

private func simulate(_ requests: [LogRequest], _ configurations: [CacheSimulation.Configuration], shards: Int = 1)
    -> CacheSimulation
{
    var options = CacheSimulation.Options()
    options.shardCount = shards
    options.maxEntryFraction = 1
    let simulation = CacheSimulation(configurations: configurations, keying: SimulationKeying(routes: nil), options: options)
    for request in requests { simulation.record(request) }
    return simulation
}

private func ttlOf(_ decision: SimulationKeying.Decision) -> Int? {
    guard case .cacheable(_, let ttl) = decision else { return -1 }
    return ttl
}

@Suite struct CacheSimulationTests {
    @Test func lruAndFIFOAgreeExactlyWithAReferenceOnUnitSizeObjects() {
        let trace = zipfTrace(keys: 500, length: 20_000, seed: 42)
        let requests = trace.map { LogRequest(method: "GET", url: "k\($0)", bytes: 1, key: "k\($0)") }
        for capacity in [10, 50, 200] {
            let simulation = simulate(
                requests, [.init(policy: .lru, sizeBytes: capacity), .init(policy: .fifo, sizeBytes: capacity)])
            let results = simulation.results
            #expect(results[0].hits == referenceHits(trace, capacity: capacity, fifo: false), "LRU at \(capacity)")
            #expect(results[1].hits == referenceHits(trace, capacity: capacity, fifo: true), "FIFO at \(capacity)")
            #expect(results[0].hits > 0 && results[0].hits < trace.count)
        }
    }

    @Test func byteHitRatioWeighsHitsBySize() {
        // "big" (900 bytes) never fits a 500-byte cache; "small" (100) hits after its first miss.
        let requests = (0..<10).flatMap { _ in
            [
                LogRequest(method: "GET", url: "big", bytes: 900, key: "big"),
                LogRequest(method: "GET", url: "small", bytes: 100, key: "small"),
            ]
        }
        let simulation = simulate(requests, [.init(policy: .lru, sizeBytes: 500)])
        let result = simulation.results[0]
        #expect(result.hits == 9)
        #expect(result.tooLarge == 10)
        #expect(simulation.objectHitRatio(result) == 0.45)
        #expect(simulation.byteHitRatio(result) == 900.0 / 10_000.0)
    }

    @Test func entriesExpireAfterTheirTTLOnTheLogsClock() {
        let t0: UnixMillis = 1_736_935_200_000
        let requests = [0, 30, 59, 61, 62].map { second in
            LogRequest(timestamp: t0 + Int64(second) * 1000, method: "GET", host: "h", url: "/x", bytes: 10, ttl: 60)
        }
        let simulation = simulate(requests, [.init(policy: .lru, sizeBytes: 1 << 20)])
        // Miss at 0, hits at 30 and 59, expired at 61 (a miss that stores again), hit at 62.
        #expect(simulation.results[0].hits == 3)
    }

    @Test func keysComeFromTheRoutesAsTheProxyKeysThem() throws {
        let origin = try #require(Origin(url: "http://127.0.0.1:9000"))
        let routes = RouteTable([
            Route(name: "users", match: "/api/users/*", origin: origin, keyQuery: .include(["id", "page"])),
            Route(name: "nocache", match: "/api/cart/*", origin: origin, cache: false),
        ])
        let keying = SimulationKeying(routes: routes)
        let a = keying.decide(LogRequest(method: "GET", url: "/api/users/7?page=2&utm=x"))
        let b = keying.decide(LogRequest(method: "HEAD", url: "/api/./users/7?utm=y&page=2"))
        guard case .cacheable(let key, let ttl) = a else {
            Issue.record("not cacheable: \(a)")
            return
        }
        #expect(a == b)
        #expect(ttl == nil)
        let route = try #require(routes.route(for: "/api/users/7"))
        #expect(key == CacheKeyBuilder.key(route: route, host: "127.0.0.1:9000", path: "/api/users/7", keyedQuery: "page=2"))
        let ttlRoute = RouteTable([Route(name: "all", match: "/*", origin: origin, policy: RoutePolicy(ttl: 30))])
        let withTTL = SimulationKeying(routes: ttlRoute)
        #expect(ttlOf(withTTL.decide(LogRequest(method: "GET", url: "/a", ttl: 120))) == 120)
        #expect(ttlOf(withTTL.decide(LogRequest(method: "GET", url: "/a", ttl: 0))) == 0)
        #expect(ttlOf(withTTL.decide(LogRequest(method: "GET", url: "/a", ttl: -5))) == 30)
        #expect(ttlOf(withTTL.decide(LogRequest(method: "GET", url: "/a"))) == 30)
        #expect(keying.decide(LogRequest(method: "GET", url: "/api/cart/1")) == .uncacheable)
        #expect(keying.decide(LogRequest(method: "GET", url: "/nowhere")) == .uncacheable)
        #expect(keying.decide(LogRequest(method: "POST", url: "/api/users/7")) == .uncacheable)
        #expect(keying.decide(LogRequest(method: "GET", url: "/api/users/1", cache: "bypass")) == .uncacheable)
        #expect(keying.decide(LogRequest(method: "GET", url: "/api/users/%zz")) == .uncacheable)
    }

    @Test func aCacheLargerThanEveryObjectMissesOnlyFirstRequests() {
        let trace = zipfTrace(keys: 2000, length: 30_000, seed: 7)
        let requests = trace.map { LogRequest(method: "GET", url: "k\($0)", bytes: 100 + $0 % 900, key: "k\($0)") }
        let sizes = [10_000, 50_000, 200_000, 1_000_000, 4_000_000]
        let simulation = simulate(requests, sizes.map { .init(policy: .lru, sizeBytes: $0) })
        let hits = simulation.results.map(\.hits)
        #expect(hits.first! < hits.last!)
        #expect(hits.last == trace.count - Set(trace).count)
        #expect(simulation.distinctKeys == Set(trace).count)
    }

    @Test func reportJSONAndSVGCarryEveryRow() {
        let trace = zipfTrace(keys: 300, length: 5_000, seed: 3)
        let requests = trace.map { LogRequest(method: "GET", url: "k\($0)", bytes: 1000, key: "k\($0)") }
        let configurations = [EvictionPolicy.lru, .tinyLFU].flatMap { policy in
            [20_000, 80_000, 160_000, 320_000].map { CacheSimulation.Configuration(policy: policy, sizeBytes: $0) }
        }
        let simulation = simulate(requests, configurations)
        let report = SimulationReport(simulation: simulation, readReport: LogReadReport(lines: 5_000))
        let advice = SizeAdvice(rows: report.rows, policy: .lru)
        let json = report.json(advice: advice)
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["requests"] as? Int == 5_000)
        let rows = object?["results"] as? [[String: Any]] ?? []
        #expect(rows.count == 8)
        #expect(rows.first?["policy"] as? String == "lru")
        #expect(rows.first?["size_bytes"] as? Int == 20_000)
        let ratio = rows.first?["object_hit_ratio"] as? Double ?? -1
        #expect(abs(ratio - report.rows[0].objectHitRatio) < 1e-6)
        #expect(rows.last?["policy"] as? String == "tinylfu")
        #expect((object?["advice"] as? [String: Any])?["l1_bytes"] as? Int == advice?.l1Bytes)
        let svg = MissRatioCurveSVG.render(report)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.components(separatedBy: "<circle").count == 9)
    }

    @Test func adviceFindsTheKneeAndThePlateau() {
        func row(_ size: Int, _ ratio: Double) -> SimulationReport.Row {
            SimulationReport.Row(policy: .lru, sizeBytes: size, objectHitRatio: ratio, byteHitRatio: ratio)
        }
        // Steep up to 8 MB, then flat: the knee is 8 MB; within 0.5 points of the top from 32 MB.
        let rows = [
            row(1 << 20, 0.2), row(2 << 20, 0.45), row(4 << 20, 0.7), row(8 << 20, 0.85), row(16 << 20, 0.88),
            row(32 << 20, 0.897), row(64 << 20, 0.9),
        ]
        let advice = SizeAdvice(rows: rows, policy: .lru)
        #expect(advice?.l1Bytes == 8 << 20)
        #expect(advice?.l2Bytes == 32 << 20)
        #expect(SizeAdvice(rows: [row(1 << 20, 0.5)], policy: .lru) == nil)
    }
}
