import Foundation
import Logging
import PacaAccessLog
import PacaCore
import PacaEngine
import PacaStorage
import PacaWarming
import Synchronization

/// What the proxy reports about itself: `/stats` (JSON), `/metrics` (Prometheus text) and the
/// alerts, all read from the engine's atomics and the tiers' reports; nothing here runs on the
/// hit path.
final class Telemetry: Sendable {
    let engine: ProxyEngine
    let cache: TieredCache
    /// L1's and L2's budgets, for the usage alerts.
    let memoryBudget: Int
    let diskBudget: Int?
    /// L3's breaker state (`closed`, `open`, `half-open`), when L3 is configured.
    let breakerState: (@Sendable () -> String)?
    /// The prewarmer, when `prewarm.enabled`.
    let prewarmer: Prewarmer?
    /// The access log, when there is one (a file, or only the prewarmer's feed).
    let accessLog: AccessLogWriter?
    /// Configuration reloads applied, refused, broadcast.
    let reloads: ReloadCounters
    let clock: any WallClock
    let logger: Logger
    let startedAt: UnixMillis
    private let alerts: Mutex<AlertEvaluator>
    private let exporter = MetricsExporter()

    init(
        engine: ProxyEngine, cache: TieredCache, memoryBudget: Int, diskBudget: Int?, breakerState: (@Sendable () -> String)?,
        alertThresholds: PacaConfiguration.Alerts, prewarmer: Prewarmer? = nil, accessLog: AccessLogWriter? = nil,
        reloads: ReloadCounters = ReloadCounters(), clock: any WallClock, logger: Logger
    ) {
        self.prewarmer = prewarmer
        self.accessLog = accessLog
        self.reloads = reloads
        self.engine = engine
        self.cache = cache
        self.memoryBudget = memoryBudget
        self.diskBudget = diskBudget
        self.breakerState = breakerState
        self.clock = clock
        self.logger = logger
        self.startedAt = clock.now()
        var evaluator = AlertEvaluator(thresholds: alertThresholds)
        _ = evaluator.evaluate(AlertEvaluator.Sample(at: startedAt))
        self.alerts = Mutex(evaluator)
    }

    /// Everything read at one moment.
    struct Reading {
        var at: UnixMillis
        var counters: EngineStatistics.Snapshot
        var routes: [EngineStatistics.RouteSnapshot]
        var cache: CacheStats
        var breaker: String?
        var bans: Int
        var alerts: [AlertEvaluator.Alert: String]

        var l2: TierStatistics? { cache.tiers.first { $0.name == "l2" } }
        var l3: TierStatistics? { cache.tiers.first { $0.name == "l3" } }
        var originDuration: LatencyHistogram.Snapshot { routes.reduce(LatencyHistogram.Snapshot()) { $0 + $1.originDuration } }
        var requestDuration: LatencyHistogram.Snapshot { routes.reduce(LatencyHistogram.Snapshot()) { $0 + $1.requestDuration } }
    }

    /// Reads the counters and evaluates the alerts, logging each alert that starts (warning) or
    /// ends (info).
    func read() async -> Reading {
        let cacheStats = await cache.stats()
        let counters = engine.statistics.snapshot()
        let now = clock.now()
        let breaker = breakerState?()
        let l2 = cacheStats.tiers.first { $0.name == "l2" }
        let sample = AlertEvaluator.Sample(
            at: now, hits: counters.hits, misses: counters.misses, originFetches: counters.originFetches,
            originErrors: counters.originErrors, l1: (cacheStats.memory.bytes, memoryBudget),
            l2: l2.flatMap { tier in diskBudget.map { (tier.bytes, $0) } }, l3BreakerOpen: breaker == "open")
        let (transitions, active) = alerts.withLock { evaluator in (evaluator.evaluate(sample), evaluator.active) }
        for transition in transitions {
            switch transition {
            case .started(let alert, let detail):
                logger.warning("alert started: \(alert.rawValue): \(detail)", metadata: ["alert": "\(alert.rawValue)"])
            case .ended(let alert):
                logger.info("alert ended: \(alert.rawValue)", metadata: ["alert": "\(alert.rawValue)"])
            }
        }
        return Reading(
            at: now, counters: counters, routes: engine.statistics.routeSnapshots(), cache: cacheStats, breaker: breaker,
            bans: engine.bans.count.list + engine.bans.count.urls, alerts: active)
    }

    /// Evaluates the alerts now (the monitor's tick); returns the active ones.
    @discardableResult
    func evaluateAlerts() async -> [AlertEvaluator.Alert: String] {
        await read().alerts
    }

    static func ratio(_ part: Int, _ whole: Int) -> Double {
        whole == 0 ? 0 : Double(part) / Double(whole)
    }

    static func percentiles(_ snapshot: LatencyHistogram.Snapshot, scale: Double) -> [String: Any] {
        func value(_ fraction: Double) -> Double { (snapshot.percentileMicros(fraction) / scale * 1000).rounded() / 1000 }
        return ["p50": value(0.5), "p90": value(0.9), "p99": value(0.99), "count": snapshot.total]
    }

    /// `/stats`.
    func statsJSON() async -> String {
        let reading = await read()
        let counters = reading.counters
        let stats = reading.cache
        var tiers: [String: Any] = [
            "l1": [
                "hits": stats.memory.hits, "misses": stats.memory.misses,
                "hit_ratio": Self.ratio(stats.memory.hits, stats.memory.hits + stats.memory.misses),
                "served": counters.tierHits["l1"] ?? 0, "entries": stats.memory.entries, "bytes": stats.memory.bytes,
                "budget_bytes": memoryBudget, "evictions": stats.memory.evictions, "sendfile_bytes": engine.sendfileBudget.bytesHeld,
                "latency_us": ["p50": stats.memoryP50Micros, "p90": stats.memoryP90Micros, "p99": stats.memoryP99Micros],
            ]
        ]
        for tier in stats.tiers {
            var object: [String: Any] = [
                "hits": tier.hits, "misses": tier.misses, "hit_ratio": Self.ratio(tier.hits, tier.hits + tier.misses),
                "served": counters.tierHits[tier.name] ?? 0, "entries": tier.entries, "bytes": tier.bytes, "errors": tier.errors,
                "evictions": tier.evictions, "latency_us": ["p50": tier.p50Micros, "p90": tier.p90Micros, "p99": tier.p99Micros],
            ]
            if tier.name == "l2", let diskBudget { object["budget_bytes"] = diskBudget }
            if tier.name == "l3", let breaker = reading.breaker { object["breaker"] = breaker }
            tiers[tier.name] = object
        }
        let routes: [[String: Any]] = reading.routes.map { route in
            [
                "name": route.name, "requests": route.requestDuration.total, "hits": route.hits, "misses": route.misses,
                "passes": route.passes, "hit_ratio": Self.ratio(route.hits, route.hits + route.misses),
                "latency_ms": Self.percentiles(route.requestDuration, scale: 1000),
                "origin_latency_ms": Self.percentiles(route.originDuration, scale: 1000),
            ]
        }
        var document: [String: Any] = [
            "time_ms": reading.at, "uptime_s": Double(reading.at - startedAt) / 1000,
            "requests": counters.requests, "hits": counters.hits, "misses": counters.misses, "passes": counters.passes,
            "hit_ratio": Self.ratio(counters.hits, counters.hits + counters.misses),
            "latency_ms": Self.percentiles(reading.requestDuration, scale: 1000),
            "origin": [
                "fetches": counters.originFetches, "errors": counters.originErrors, "errors_by_kind": counters.errorKinds,
                "latency_ms": Self.percentiles(reading.originDuration, scale: 1000),
            ],
            "coalesced": counters.collapsed, "coalesced_across_nodes": counters.sharedFill, "stored": counters.stored,
            "not_stored": counters.notStored,
            "stale_served": counters.staleServed, "revalidations": counters.revalidations, "invalidations": counters.invalidations,
            "background_refreshes": counters.backgroundRefreshes, "tiers": tiers, "routes": routes, "bans": reading.bans,
            "alerts": reading.alerts.keys.sorted().map { ["name": $0.rawValue, "detail": reading.alerts[$0]!] },
        ]
        if let prewarmer { document["prewarm"] = Self.prewarmJSON(prewarmer.status()) }
        if let accessLog {
            let lines = accessLog.counts
            document["access_log"] = ["written": lines.written, "dropped": lines.dropped, "failed": lines.failed]
        }
        let reloads = self.reloads.snapshot()
        document["reloads"] = [
            "applied": reloads.applied, "refused": reloads.refused, "broadcasts_sent": reloads.broadcastsSent,
            "broadcasts_received": reloads.broadcastsReceived,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The prewarmer's figures, in `/stats` and `GET /prewarm`.
    static func prewarmJSON(_ status: Prewarmer.Status) -> [String: Any] {
        let totals = status.totals
        func rounded(_ value: Double?) -> Any { value.map { ($0 * 10_000).rounded() / 10_000 } ?? NSNull() }
        var object: [String: Any] = [
            "warmed": totals.warmed, "warmed_by_reason": totals.warmedByReason, "used": totals.used, "wasted": totals.wasted,
            "precision": rounded(totals.precision), "saved_misses": totals.savedMisses,
            "hit_ratio_uplift_estimate": rounded(totals.upliftEstimate), "origin_requests": totals.originRequests,
            "origin_errors": totals.originErrors, "origin_share": rounded(totals.originShare), "promoted": totals.promoted,
            "already_fresh": totals.alreadyFresh, "queued": status.queued, "in_flight": status.inFlight, "dropped": status.dropped,
            "tracked_keys": status.trackedKeys, "pace": status.condition.rawValue, "rate_per_second": rounded(status.rate),
            "backoffs": status.backoffs,
        ]
        if let path = status.modelPath { object["model"] = path }
        return object
    }

    /// `/metrics`: the Prometheus text exposition. Labels are only `route`, `tier`, `result`
    /// (and `alert` on `paca_alert_active`), all from bounded sets.
    func metricsText() async -> String {
        let reading = await read()
        let counters = reading.counters
        let stats = reading.cache
        return exporter.render { metrics in
            metrics.counter("paca_requests_total", total: counters.requests)
            let reloads = self.reloads.snapshot()
            metrics.counter("paca_config_reloads_total", [("result", "applied")], total: reloads.applied)
            metrics.counter("paca_config_reloads_total", [("result", "refused")], total: reloads.refused)
            metrics.counter("paca_config_reload_broadcasts_total", [("result", "sent")], total: reloads.broadcastsSent)
            metrics.counter("paca_config_reload_broadcasts_total", [("result", "received")], total: reloads.broadcastsReceived)
            for route in reading.routes {
                let name = ("route", route.name)
                metrics.counter("paca_route_requests_total", [name, ("result", "hit")], total: route.hits)
                metrics.counter("paca_route_requests_total", [name, ("result", "miss")], total: route.misses)
                metrics.counter("paca_route_requests_total", [name, ("result", "pass")], total: route.passes)
                metrics.histogram("paca_request_duration_seconds", [name], route.requestDuration)
                metrics.histogram("paca_origin_duration_seconds", [name], route.originDuration)
            }
            var tiers: [(String, hits: Int, misses: Int, entries: Int, bytes: Int)] = [
                ("l1", stats.memory.hits, stats.memory.misses, stats.memory.entries, stats.memory.bytes)
            ]
            for tier in stats.tiers { tiers.append((tier.name, tier.hits, tier.misses, tier.entries, tier.bytes)) }
            for tier in tiers {
                let name = ("tier", tier.0)
                metrics.counter("paca_tier_lookups_total", [name, ("result", "hit")], total: tier.hits)
                metrics.counter("paca_tier_lookups_total", [name, ("result", "miss")], total: tier.misses)
                metrics.counter("paca_tier_served_total", [name], total: counters.tierHits[tier.0] ?? 0)
                metrics.gauge("paca_tier_entries", [name], value: Double(tier.entries))
                metrics.gauge("paca_tier_bytes", [name], value: Double(tier.bytes))
            }
            metrics.gauge("paca_tier_budget_bytes", [("tier", "l1")], value: Double(memoryBudget))
            metrics.gauge("paca_sendfile_mirror_bytes", value: Double(engine.sendfileBudget.bytesHeld))
            if let diskBudget, reading.l2 != nil { metrics.gauge("paca_tier_budget_bytes", [("tier", "l2")], value: Double(diskBudget)) }
            metrics.counter("paca_origin_fetches_total", total: counters.originFetches)
            for (kind, count) in counters.errorKinds.sorted(by: { $0.key < $1.key }) {
                metrics.counter("paca_origin_errors_total", [("result", kind)], total: count)
            }
            metrics.counter("paca_coalesced_requests_total", total: counters.collapsed)
            for (result, count) in counters.sharedFill.sorted(by: { $0.key < $1.key }) {
                metrics.counter("paca_coalesced_across_nodes_total", [("result", result)], total: count)
            }
            metrics.counter("paca_stored_total", total: counters.stored)
            metrics.gauge("paca_bans", value: Double(reading.bans))
            if let accessLog {
                // written; dropped (its queue was full); failed (the write failed: a full disk).
                let lines = accessLog.counts
                metrics.counter("paca_access_log_lines_total", [("result", "written")], total: lines.written)
                metrics.counter("paca_access_log_lines_total", [("result", "dropped")], total: lines.dropped)
                metrics.counter("paca_access_log_lines_total", [("result", "failed")], total: lines.failed)
            }
            if let prewarmer {
                let status = prewarmer.status()
                let totals = status.totals
                for (reason, count) in totals.warmedByReason.sorted(by: { $0.key < $1.key }) {
                    metrics.counter("paca_prewarm_warmed_total", [("result", reason)], total: count)
                }
                metrics.counter("paca_prewarm_used_total", total: totals.used)
                metrics.counter("paca_prewarm_wasted_total", total: totals.wasted)
                metrics.counter("paca_prewarm_saved_misses_total", total: totals.savedMisses)
                metrics.counter(
                    "paca_prewarm_origin_requests_total", [("result", "ok")], total: totals.originRequests - totals.originErrors)
                metrics.counter("paca_prewarm_origin_requests_total", [("result", "error")], total: totals.originErrors)
                metrics.gauge("paca_prewarm_precision", value: totals.precision ?? 0)
                metrics.gauge("paca_prewarm_hit_ratio_uplift", value: totals.upliftEstimate ?? 0)
                metrics.gauge("paca_prewarm_queued", value: Double(status.queued))
                metrics.gauge("paca_prewarm_rate", value: status.rate)
            }
            for alert in AlertEvaluator.Alert.allCases {
                metrics.gauge("paca_alert_active", [("alert", alert.rawValue)], value: reading.alerts[alert] == nil ? 0 : 1)
            }
        }
    }
}
