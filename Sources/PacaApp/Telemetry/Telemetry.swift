import Foundation
import PacaEngine
import PacaStorage

/// What the proxy reports about itself: `/stats` (JSON) and `/metrics` (Prometheus text).
final class Telemetry: Sendable {
    let engine: ProxyEngine
    let cache: TieredCache

    init(engine: ProxyEngine, cache: TieredCache) {
        self.engine = engine
        self.cache = cache
    }

    /// `/stats`: the engine's counters and every tier's report.
    func statsJSON() async -> String {
        let counters = engine.statistics.snapshot()
        let stats = await cache.stats()
        let lookups = counters.hits + counters.misses
        var tiers: [[String: Any]] = [
            [
                "name": "l1", "entries": stats.memory.entries, "bytes": stats.memory.bytes, "hits": stats.memory.hits,
                "misses": stats.memory.misses,
            ]
        ]
        for tier in stats.tiers {
            tiers.append([
                "name": tier.name, "entries": tier.entries, "bytes": tier.bytes, "hits": tier.hits, "misses": tier.misses,
                "p50_us": tier.p50Micros, "p99_us": tier.p99Micros,
            ])
        }
        let document: [String: Any] = [
            "requests": counters.requests, "hits": counters.hits, "misses": counters.misses,
            "hit_ratio": lookups == 0 ? 0 : Double(counters.hits) / Double(lookups), "passes": counters.passes,
            "origin_fetches": counters.originFetches, "origin_errors": counters.originErrors, "collapsed": counters.collapsed,
            "stored": counters.stored, "not_stored": counters.notStored, "stale_served": counters.staleServed,
            "revalidations": counters.revalidations, "invalidations": counters.invalidations, "tiers": tiers,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `/metrics`: the same counters in the Prometheus text format.
    func metricsText() async -> String {
        let counters = engine.statistics.snapshot()
        var text = ""
        for (name, value) in [
            ("paca_requests_total", counters.requests), ("paca_hits_total", counters.hits), ("paca_misses_total", counters.misses),
            ("paca_origin_fetches_total", counters.originFetches), ("paca_origin_errors_total", counters.originErrors),
        ] {
            text += "# TYPE \(name) counter\n\(name) \(value)\n"
        }
        return text
    }
}
