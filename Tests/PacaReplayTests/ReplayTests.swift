import Foundation
import PacaReplay
import Testing

@Suite("Replay: Cache-Status, percentiles, pacing, report")
struct ReplayTests {
    @Test(
        "Cache-Status members classify as l1/l2/l3/stale/collapsed/miss/bypass",
        arguments: [
            ("paca; hit; ttl=30; detail=l1", ReplayOutcome.l1),
            ("paca; hit; ttl=30; detail=l2", .l2),
            ("paca; hit; ttl=5; detail=l3", .l3),
            ("paca; hit; ttl=-4; detail=l1", .stale),
            ("paca; fwd=uri-miss; fwd-status=200; stored; ttl=60", .miss),
            ("paca; fwd=vary-miss; fwd-status=200; stored; ttl=60", .miss),
            ("paca; fwd=uri-miss; fwd-status=200; collapsed; stored; ttl=60", .collapsed),
            ("paca; fwd=stale; fwd-status=304", .miss),
            ("paca; fwd=bypass; detail=cookie", .bypass),
            ("Upstream; hit, paca; fwd=uri-miss; fwd-status=200", .miss),
            ("paca; hit; detail=l2, OtherCDN; fwd=uri-miss", .l2),
            ("OtherCDN; hit", .l1),
            ("", .unknown),
        ])
    func classify(field: String, expected: ReplayOutcome) {
        #expect(ReplayOutcome.classify(cacheStatus: field.isEmpty ? [] : [field]) == expected)
    }

    @Test("hits, stale and collapsed answers cost no origin fetch; misses and bypasses do")
    func hitAndFetch() {
        #expect(ReplayOutcome.allCases.filter(\.isHit) == [.l1, .l2, .l3, .stale, .collapsed])
        #expect(ReplayOutcome.allCases.filter(\.isOriginFetch) == [.miss, .bypass])
    }

    @Test("percentiles are nearest-rank over the samples and max is exact")
    func percentiles() {
        var samples = LatencySamples(capacity: 1000)
        for value in (1...1000).reversed() { samples.record(Double(value)) }
        #expect(samples.percentiles([50, 90, 99, 99.9, 100]) == [500, 900, 990, 999, 1000])
        #expect(LatencySamples.nearestRank([7], 99.9) == 7)
        #expect(LatencySamples(capacity: 4).percentiles([50]) == [0])
    }

    @Test("past its capacity the reservoir keeps that many samples, the count and the exact max")
    func reservoir() {
        var samples = LatencySamples(capacity: 100)
        for value in 0..<10_000 { samples.record(Double(value % 100)) }
        samples.record(12_345)
        #expect(samples.samples.count == 100 && samples.count == 10_001 && samples.max == 12_345)
        #expect(samples.percentiles([100]) == [12_345])
    }

    @Test("speed scales the log's relative timing, never goes backwards, and sends untimed lines with the one before")
    func speedSchedule() {
        var schedule = ReplaySchedule(pacing: .speed(2))
        let dues = [1_000_000, 1_000_500, 1_002_000, 1_001_000, nil, 1_010_000].map { schedule.nextDue(timestamp: $0) }
        #expect(dues == [.zero, .milliseconds(250), .milliseconds(1000), .milliseconds(1000), .milliseconds(1000), .seconds(5)])
        var slow = ReplaySchedule(pacing: .speed(0.5))
        _ = slow.nextDue(timestamp: 0)
        #expect(slow.nextDue(timestamp: 100) == .milliseconds(200))
    }

    @Test("rate spaces requests evenly and a closed loop has no schedule")
    func rateAndClosedLoop() {
        var rate = ReplaySchedule(pacing: .rate(4))
        #expect(
            (0..<5).map { _ in rate.nextDue(timestamp: nil) } == [
                .zero, .milliseconds(250), .milliseconds(500), .milliseconds(750), .seconds(1),
            ])
        var closed = ReplaySchedule(pacing: .concurrency(8))
        #expect(closed.nextDue(timestamp: 5) == nil)
    }

    @Test("targets keep the logged path and query; routes default to the first path segment")
    func targetsAndRoutes() {
        #expect(ReplayTarget.url(base: "http://127.0.0.1:8080/", logged: "/api/users/1?id=2") == "http://127.0.0.1:8080/api/users/1?id=2")
        #expect(ReplayTarget.url(base: "http://h:1", logged: "http://example.com/a/b?c") == "http://h:1/a/b?c")
        #expect(ReplayTarget.url(base: "http://h:1", logged: "key-42") == "http://h:1/key-42")
        #expect(ReplaySample.route(logged: "users", url: "/api/users/1") == "users")
        #expect(ReplaySample.route(logged: nil, url: "/api/users/1?x=1") == "api")
        #expect(ReplaySample.route(logged: "", url: "/?x") == "/")
    }

    @Test("the report's JSON has the documented keys and reads back equal")
    func reportJSON() throws {
        var tally = ReplayTally()
        tally.record(sample("a", .miss, 100, 10, at: 0.2))
        tally.record(sample("a", .l1, 100, 1, at: 0.5))
        tally.record(sample("b", .l2, 300, 2, at: 1.5))
        tally.record(ReplaySample(route: "b", outcome: nil, bytes: 0, latencyMilliseconds: 5, error: .connect, finishedAt: 1.7))
        let report = ReplayReport(log: "x.log", target: "http://t", pacing: .concurrency(2), tally: tally, seconds: 2, malformedLines: 1)
        let data = try report.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["requests"] as? Int == 4)
        #expect(object["errors"] as? Int == 1)
        #expect(object["hit_ratio"] as? Double == 2.0 / 3)
        #expect(object["byte_hit_ratio"] as? Double == 0.8)
        #expect(object["origin_fetches_per_s"] as? Double == 0.5)
        let latency = try #require(object["latency_ms"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p90", "p99", "p999", "max"] && latency["max"] == 10)
        let routes = try #require(object["routes"] as? [String: [String: Any]])
        #expect(routes["a"]?["hit_ratio"] as? Double == 0.5 && routes["b"]?["errors"] as? Int == 1)
        #expect(try ReplayReport.decode(data) == report)
        #expect(report.timeline == [.init(second: 0, requests: 2, hits: 1), .init(second: 1, requests: 2, hits: 1)])
    }

    private func sample(_ route: String, _ outcome: ReplayOutcome, _ bytes: Int, _ latency: Double, at: Double) -> ReplaySample {
        ReplaySample(route: route, outcome: outcome, bytes: bytes, latencyMilliseconds: latency, error: nil, finishedAt: at)
    }
}
