import PacaCore
import Synchronization

/// Fills a `TieredCache` from registered data sources, now or on a schedule
/// (`CacheWarming` in the original design).
public final class CacheWarming: Sendable {
    /// One loaded item.
    public struct Item: Sendable {
        public var key: String
        public var value: CacheValue
        public var ttl: Duration

        /// Creates an item.
        public init(key: String, value: CacheValue, ttl: Duration) {
            self.key = key
            self.value = value
            self.ttl = ttl
        }
    }

    /// Loads the items to warm.
    public typealias Loader = @Sendable () async throws -> [Item]

    private let cache: TieredCache
    private let sources = Mutex<[(name: String, loader: Loader)]>([])
    private let running = Mutex<Task<Void, Never>?>(nil)

    /// Warms `cache`.
    public init(cache: TieredCache) {
        self.cache = cache
    }

    /// Adds (or replaces) the source `name`.
    public func registerDataSource(name: String, loader: @escaping Loader) {
        sources.withLock { sources in
            sources.removeAll { $0.name == name }
            sources.append((name, loader))
        }
    }

    /// What one warming pass did.
    public struct Report: Sendable, Equatable {
        /// Items stored.
        public var warmed: Int
        /// Sources whose loader threw, by name.
        public var failedSources: [String]
    }

    /// Runs every source once and stores what they load; a failing source is reported, the
    /// others still run.
    @discardableResult
    public func warmNow() async -> Report {
        let current = sources.withLock { $0 }
        var report = Report(warmed: 0, failedSources: [])
        for source in current {
            do {
                let items = try await source.loader()
                await cache.set(items.map { (key: $0.key, value: $0.value, ttl: $0.ttl) })
                report.warmed += items.count
            } catch {
                report.failedSources.append(source.name)
            }
        }
        return report
    }

    /// Warms now and then every `interval` on `clock` until `stopWarming()`.
    public func startWarming(every interval: Duration, clock: any Clock<Duration> = ContinuousClock()) {
        let task = Task { [self] in
            while !Task.isCancelled {
                await warmNow()
                do { try await clock.sleep(for: interval) } catch { return }
            }
        }
        running.withLock { previous in
            previous?.cancel()
            previous = task
        }
    }

    /// Stops the schedule started by `startWarming`.
    public func stopWarming() {
        running.withLock { task in
            task?.cancel()
            task = nil
        }
    }
}
