import Foundation
import PacaApp
import PacaCore
import Testing

/// The alert evaluator as a table: each row advances a manual clock, takes a sample and states
/// which alerts start, end and are active. No sleeping.
@Suite("Alert evaluator")
struct AlertEvaluatorTests {
    typealias Alert = AlertEvaluator.Alert

    struct Row {
        var note: String
        /// Seconds the clock moves before the sample.
        var advance: Int64
        var hits = 0, misses = 0, fetches = 0, errors = 0
        var l1: (Int, Int)? = (0, 100)
        var l2: (Int, Int)?
        var breakerOpen = false
        var started: Set<Alert> = []
        var ended: Set<Alert> = []
        var active: Set<Alert>
    }

    @Test("alerts start and end as the 5-minute window moves")
    func table() {
        let clock = ManualWallClock(start: 1_000_000)
        var evaluator = AlertEvaluator(thresholds: .init())
        let rows: [Row] = [
            Row(note: "idle start", advance: 0, active: []),
            Row(note: "50 misses: too few lookups to judge", advance: 30, misses: 50, active: []),
            Row(
                note: "120 lookups at 1/6 hits: hit ratio low", advance: 30, hits: 20, misses: 100, started: [.hitRatioLow],
                active: [.hitRatioLow]),
            Row(
                note: "then 900 hits: 920/1020 over the window", advance: 60, hits: 920, misses: 100, ended: [.hitRatioLow],
                active: []),
            Row(
                note: "L1 at 81% of its budget", advance: 10, hits: 920, misses: 100, l1: (81, 100), started: [.l1NearBudget],
                active: [.l1NearBudget]),
            Row(
                note: "L1 at exactly 80% is not above", advance: 10, hits: 920, misses: 100, l1: (80, 100), ended: [.l1NearBudget],
                active: []),
            Row(
                note: "L2 over budget", advance: 10, hits: 920, misses: 100, l2: (900, 1000), started: [.l2NearBudget],
                active: [.l2NearBudget]),
            Row(
                note: "100 fetches, 10 failed: origin errors", advance: 10, hits: 920, misses: 100, fetches: 100, errors: 10,
                l2: (900, 1000), started: [.originErrors], active: [.l2NearBudget, .originErrors]),
            Row(
                note: "breaker opens", advance: 10, hits: 920, misses: 100, fetches: 100, errors: 10, l2: (100, 1000), breakerOpen: true,
                started: [.l3BreakerOpen], ended: [.l2NearBudget], active: [.originErrors, .l3BreakerOpen]),
            Row(
                note: "6 minutes of clean fetches: old errors leave the window", advance: 360, hits: 2000, misses: 100, fetches: 500,
                errors: 10, ended: [.originErrors, .l3BreakerOpen], active: []),
            Row(
                note: "a burst of misses 5 minutes later counts only within the window", advance: 300, hits: 2000, misses: 300,
                fetches: 700, errors: 10, started: [.hitRatioLow], active: [.hitRatioLow]),
            Row(
                note: "the window slides past the burst", advance: 301, hits: 2200, misses: 300, fetches: 700, errors: 10,
                ended: [.hitRatioLow], active: []),
        ]
        for row in rows {
            clock.advance(by: .seconds(row.advance))
            let transitions = evaluator.evaluate(
                AlertEvaluator.Sample(
                    at: clock.now(), hits: row.hits, misses: row.misses, originFetches: row.fetches, originErrors: row.errors,
                    l1: row.l1.map { (bytes: $0.0, budget: $0.1) }, l2: row.l2.map { (bytes: $0.0, budget: $0.1) },
                    l3BreakerOpen: row.breakerOpen))
            var started: Set<Alert> = []
            var ended: Set<Alert> = []
            for transition in transitions {
                switch transition {
                case .started(let alert, _): started.insert(alert)
                case .ended(let alert): ended.insert(alert)
                }
            }
            #expect(started == row.started, "\(row.note)")
            #expect(ended == row.ended, "\(row.note)")
            #expect(Set(evaluator.active.keys) == row.active, "\(row.note)")
        }
    }

    @Test("thresholds come from the configuration")
    func customThresholds() {
        var thresholds = PacaConfiguration.Alerts()
        thresholds.minimumHitRatio = 0.5
        thresholds.minimumRequests = 10
        thresholds.maximumOriginErrorRatio = 0.5
        thresholds.minimumOriginFetches = 4
        var evaluator = AlertEvaluator(thresholds: thresholds)
        _ = evaluator.evaluate(.init(at: 0))
        #expect(evaluator.evaluate(.init(at: 1000, hits: 6, misses: 4, originFetches: 4, originErrors: 2)).isEmpty)
        let transitions = evaluator.evaluate(.init(at: 2000, hits: 6, misses: 10, originFetches: 10, originErrors: 6))
        #expect(transitions.count == 2)
        #expect(Set(evaluator.active.keys) == [.hitRatioLow, .originErrors])
        #expect(evaluator.active[.hitRatioLow]?.contains("37.5%") == true)
    }
}

@Suite("Alert configuration")
struct AlertConfigurationTests {
    static let route = #"{"name": "r", "match": "/*", "origin": "http://127.0.0.1:9000"}"#

    static func parse(_ alerts: String) throws(ConfigurationError) -> PacaConfiguration {
        try ConfigurationLoader.parse(Data(#"{"alerts": \#(alerts), "routes": [\#(route)]}"#.utf8), file: "/tmp/routes.json")
    }

    @Test("an alerts object sets every threshold; ratios take 0…1 or a percentage")
    func parsed() throws {
        let alerts = try Self.parse(
            #"{"enabled": false, "window": "10m", "interval": "30s", "min_hit_ratio": "60%", "min_requests": 500, "#
                + #""max_tier_usage": 0.9, "max_origin_error_ratio": 0.01, "min_origin_fetches": 50}"#
        ).alerts
        #expect(!alerts.enabled)
        #expect(alerts.window == .seconds(600))
        #expect(alerts.interval == .seconds(30))
        #expect(abs(alerts.minimumHitRatio - 0.6) < 1e-9)
        #expect(alerts.minimumRequests == 500)
        #expect(alerts.maximumTierUsage == 0.9)
        #expect(alerts.maximumOriginErrorRatio == 0.01)
        #expect(alerts.minimumOriginFetches == 50)
        #expect(try Self.parse("{}").alerts == PacaConfiguration.Alerts())
    }

    @Test("unknown fields and out-of-range values are refused with their path")
    func refused() {
        for (json, path) in [
            (#"{"hit_ratio": 0.5}"#, "$.alerts.hit_ratio"), (#"{"min_hit_ratio": 1.5}"#, "$.alerts.min_hit_ratio"),
            (#"{"max_tier_usage": "eighty"}"#, "$.alerts.max_tier_usage"), (#"{"window": "0s"}"#, "$.alerts.window"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { try Self.parse(json) }
            #expect(error?.path == path, "\(json)")
        }
    }
}
