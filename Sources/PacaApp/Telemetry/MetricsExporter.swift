import CoreMetrics
import PacaEngine
import Prometheus
import Synchronization

/// `/metrics`: swift-metrics objects backed by one `PrometheusCollectorRegistry` per application
/// (no global `MetricsSystem.bootstrap`, so several applications can live in one process).
///
/// The hit path never touches these objects: it counts with the engine's atomics
/// (`EngineStatistics`, `LatencyHistogram`), and each scrape moves what changed since the last
/// one into the registry under a lock that only scrapes take. A metric object is created once,
/// the first time its label set is seen (label sets are bounded: routes, tiers, error kinds,
/// alerts).
final class MetricsExporter: Sendable {
    /// Bounds of the request and origin duration histograms: 100 µs to 10 s, 1-2.5-5 per decade
    /// (each is also a bound of `LatencyHistogram`, so folding its buckets in loses nothing).
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let state = Mutex(State())

    fileprivate struct State {
        var counters: [String: (counter: CoreMetrics.Counter, last: Int)] = [:]
        var meters: [String: CoreMetrics.Meter] = [:]
        var timers: [String: (timer: CoreMetrics.Timer, last: LatencyHistogram.Snapshot)] = [:]
    }

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
    }

    /// One scrape's worth of updates, applied under the exporter's lock.
    struct Update {
        fileprivate var state: State
        fileprivate let factory: PrometheusMetricsFactory

        /// Raises the counter `name{dimensions}` to `total` (a counter never goes down).
        mutating func counter(_ name: String, _ dimensions: [(String, String)] = [], total: Int) {
            let key = Self.key(name, dimensions)
            var entry = state.counters[key] ?? (CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory), 0)
            if total > entry.last {
                entry.counter.increment(by: Int64(total - entry.last))
                entry.last = total
            }
            state.counters[key] = entry
        }

        /// Sets the gauge `name{dimensions}`.
        mutating func gauge(_ name: String, _ dimensions: [(String, String)] = [], value: Double) {
            let key = Self.key(name, dimensions)
            let meter = state.meters[key] ?? CoreMetrics.Meter(label: name, dimensions: dimensions, factory: factory)
            meter.set(value)
            state.meters[key] = meter
        }

        /// Folds what `histogram` recorded since the last scrape into the histogram
        /// `name{dimensions}`: each new observation is recorded at its bucket's upper bound, so
        /// bucket counts are exact and `_sum` is an upper estimate.
        mutating func histogram(_ name: String, _ dimensions: [(String, String)] = [], _ histogram: LatencyHistogram.Snapshot) {
            let key = Self.key(name, dimensions)
            var entry =
                state.timers[key] ?? (CoreMetrics.Timer(label: name, dimensions: dimensions, factory: factory), LatencyHistogram.Snapshot())
            let bounds = LatencyHistogram.boundsMicros
            for index in histogram.counts.indices {
                let new = histogram.counts[index] - (index < entry.last.counts.count ? entry.last.counts[index] : 0)
                guard new > 0 else { continue }
                let micros = index < bounds.count ? bounds[index] : 120_000_000
                for _ in 0..<new { entry.timer.recordNanoseconds(Int64(micros) * 1000) }
            }
            entry.last = histogram
            state.timers[key] = entry
        }

        static func key(_ name: String, _ dimensions: [(String, String)]) -> String {
            dimensions.reduce(name) { $0 + "|" + $1.0 + "=" + $1.1 }
        }
    }

    /// Applies `body`'s updates, then renders the registry in the Prometheus text format.
    func render(_ body: (inout Update) -> Void) -> String {
        state.withLock { state in
            var update = Update(state: state, factory: factory)
            body(&update)
            state = update.state
        }
        return registry.emitToString()
    }
}
