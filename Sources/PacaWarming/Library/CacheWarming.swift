import Foundation
public import PacaCore
public import PacaStorage
import Synchronization

/// Fills a `TieredCache` from registered data sources, now or on a schedule (`CacheWarming` in
/// the original design), guided by the same popularity and sequence models as `paca warm`.
///
/// Two kinds of source:
/// - a bulk loader (`registerDataSource(name:loader:)`) returns a fixed list of items, all of
///   which each pass stores;
/// - a per-key loader (`registerDataSource(name:keys:load:)`) loads one key on demand. The
///   application reports its reads with `recordAccess(_:)` (or reads through `get(_:)`), which
///   feeds a `WarmingModel`; `warmNow()` then loads the keys the model predicts will be read
///   soon, hottest first, and a read of A prefetches the keys that reliably follow A.
///
/// Time comes from an injected `WallClock`, so the model is tested on a manual clock.
public final class CacheWarming: Sendable {
    /// One loaded item.
    public struct Item: Sendable {
        /// The key it is stored under.
        public var key: String
        /// The value stored.
        public var value: CacheValue
        /// How long it stays fresh in the cache.
        public var ttl: Duration

        /// Creates an item.
        public init(key: String, value: CacheValue, ttl: Duration) {
            self.key = key
            self.value = value
            self.ttl = ttl
        }
    }

    /// Loads the items of a bulk source.
    public typealias Loader = @Sendable () async throws -> [Item]
    /// Whether a per-key source can load a key.
    public typealias KeyFilter = @Sendable (String) -> Bool
    /// Loads one key of a per-key source; `nil` when the key has no value to warm.
    public typealias KeyLoader = @Sendable (String) async throws -> Item?

    /// How the warmer chooses and loads keys.
    public struct Configuration: Sendable {
        /// The popularity model's parameters; its `capacity` bounds the keys tracked (default
        /// 10,000, about 0.8 KB each).
        public var popularity: PopularityModel.Configuration
        /// The sequence model's parameters (default: followers within 5 s, 8 per key).
        public var sequence: SequenceModel.Configuration
        /// The most predicted keys one `warmNow()` considers (default 1,000).
        public var top: Int
        /// The window the predictions cover, starting at the pass (default 5 minutes): a key is
        /// warmed when it is likely to be read within it.
        public var window: Duration
        /// The least probability of at least one read within `window`, `1 − exp(−predicted
        /// reads)`, for a key to be warmed (default 0.5).
        public var minimumProbability: Double
        /// Per-key loads running at once in a pass (default 8).
        public var maxConcurrentLoads: Int
        /// The least `P(B follows A)` for a read of A to prefetch B (default 0.5); above 1
        /// turns follower prefetch off.
        public var followerProbability: Double
        /// The least lift of B after A over chance for a prefetch (default 2; see
        /// `SequenceModel.followers(of:minimumLift:)`).
        public var followerMinimumLift: Double
        /// Prefetches pending at once (default 32); a follower beyond it is dropped, so a flood
        /// of reads never queues unbounded work.
        public var maxPendingPrefetches: Int

        /// Creates a configuration; every parameter has the default stated on its property.
        public init(
            popularity: PopularityModel.Configuration = .init(), sequence: SequenceModel.Configuration = .init(), top: Int = 1_000,
            window: Duration = .seconds(300), minimumProbability: Double = 0.5, maxConcurrentLoads: Int = 8,
            followerProbability: Double = 0.5, followerMinimumLift: Double = 2, maxPendingPrefetches: Int = 32
        ) {
            self.popularity = popularity
            self.sequence = sequence
            self.top = max(0, top)
            self.window = window
            self.minimumProbability = minimumProbability
            self.maxConcurrentLoads = max(1, maxConcurrentLoads)
            self.followerProbability = followerProbability
            self.followerMinimumLift = followerMinimumLift
            self.maxPendingPrefetches = max(0, maxPendingPrefetches)
        }
    }

    /// What one warming pass did.
    public struct Report: Sendable, Equatable {
        /// Items stored (from bulk and per-key sources).
        public var warmed: Int
        /// Predicted keys not loaded because the cache already held them fresh.
        public var skippedFresh: Int
        /// Sources whose loader threw, by name, in registration order, each once.
        public var failedSources: [String]

        /// Creates a report.
        public init(warmed: Int = 0, skippedFresh: Int = 0, failedSources: [String] = []) {
            self.warmed = warmed
            self.skippedFresh = skippedFresh
            self.failedSources = failedSources
        }
    }

    enum Source: Sendable {
        case bulk(Loader)
        case perKey(claims: KeyFilter, load: KeyLoader)
    }

    /// Everything mutable, behind one lock. `recordAccess` holds it for one model update and a
    /// look at the key's few followers; `warmNow` for one ranking of the tracked keys.
    struct State: Sendable {
        var model: WarmingModel
        var sources: [(name: String, source: Source)] = [] {
            didSet { hasKeySources = sources.contains { if case .perKey = $0.source { true } else { false } } }
        }
        /// Whether a per-key source is registered, kept with `sources` so a read need not scan them.
        private(set) var hasKeySources = false
        var schedule: Task<Void, Never>?
        /// Keys being prefetched, by prefetch id; its size is the number pending.
        var prefetching: [String: UInt64] = [:]
        /// The tasks of `prefetching`, by id, for `waitForPrefetches`. A task is added only while
        /// its key still maps to its id, so one that finished first is never left behind.
        var prefetchTasks: [UInt64: Task<Void, Never>] = [:]
        var nextPrefetchID: UInt64 = 0
        var prefetchStatistics = PrefetchStatistics()
    }

    /// The cache warmed.
    public let cache: TieredCache
    /// The parameters.
    public let configuration: Configuration
    let clock: any WallClock
    let state: Mutex<State>

    /// Warms `cache`, with an empty model; `clock` times reads and predictions (default: the
    /// system clock).
    public init(cache: TieredCache, configuration: Configuration = .init(), clock: any WallClock = SystemWallClock()) {
        self.cache = cache
        self.configuration = configuration
        self.clock = clock
        self.state = Mutex(State(model: WarmingModel(popularity: configuration.popularity, sequence: configuration.sequence)))
    }

    /// Adds (or replaces) the bulk source `name`: every pass stores all the items it returns.
    public func registerDataSource(name: String, loader: @escaping Loader) {
        register(name, .bulk(loader))
    }

    /// Adds (or replaces) the per-key source `name`: it loads the keys `keys` accepts, one at a
    /// time, when the model predicts them. A key is loaded by the first registered source that
    /// accepts it; the item is stored under its own `key` with its `ttl`.
    public func registerDataSource(name: String, keys: @escaping KeyFilter, load: @escaping KeyLoader) {
        register(name, .perKey(claims: keys, load: load))
    }

    private func register(_ name: String, _ source: Source) {
        state.withLock { state in
            if let index = state.sources.firstIndex(where: { $0.name == name }) {
                state.sources[index].source = source
            } else {
                state.sources.append((name, source))
            }
        }
    }

    /// A copy of the model as it stands, for inspection (`top`, `followers`).
    public var model: WarmingModel {
        state.withLock { $0.model }
    }

    /// Runs every bulk source once and stores what it loads, then loads the keys the model
    /// predicts: the `top` keys whose probability of a read within `window` is at least
    /// `minimumProbability`, hottest first, skipping those the cache holds fresh and those no
    /// per-key source accepts, at most `maxConcurrentLoads` at once. A failing source is
    /// reported; the others still run.
    @discardableResult
    public func warmNow() async -> Report {
        let now = clock.now()
        let window = configuration.window.milliseconds
        let (sources, predictions) = state.withLock { state in
            let predictions = state.hasKeySources ? state.model.popularity.top(configuration.top, at: now, within: window) : []
            return (state.sources, predictions)
        }
        var report = Report()
        var failed: Set<String> = []
        for (name, source) in sources {
            guard case .bulk(let loader) = source else { continue }
            do {
                let items = try await loader()
                await cache.set(items.map { (key: $0.key, value: $0.value, ttl: $0.ttl) })
                report.warmed += items.count
            } catch {
                failed.insert(name)
            }
        }
        let keySources = sources.compactMap { name, source -> (name: String, claims: KeyFilter, load: KeyLoader)? in
            guard case .perKey(let claims, let load) = source else { return nil }
            return (name, claims, load)
        }
        var loads: [(key: String, source: String, load: KeyLoader)] = []
        for prediction in predictions where Self.probability(ofReads: prediction.score) >= configuration.minimumProbability {
            guard let source = keySources.first(where: { $0.claims(prediction.key) }) else { continue }
            if await cache.contains(prediction.key) {
                report.skippedFresh += 1
            } else {
                loads.append((prediction.key, source.name, source.load))
            }
        }
        let outcome = await load(loads)
        report.warmed += outcome.warmed
        failed.formUnion(outcome.failed)
        report.failedSources = sources.map { $0.name }.filter { failed.contains($0) }
        return report
    }

    /// `1 − exp(−reads)`: the chance of at least one read when `reads` are expected (Poisson).
    static func probability(ofReads reads: Double) -> Double {
        1 - exp(-max(0, reads))
    }

    /// Runs `loads` in order with at most `maxConcurrentLoads` at once and stores what they
    /// return; returns how many were stored and which sources threw.
    private func load(_ loads: [(key: String, source: String, load: KeyLoader)]) async -> (warmed: Int, failed: Set<String>) {
        guard !loads.isEmpty else { return (0, []) }
        let cache = self.cache
        return await withTaskGroup(of: (stored: Bool, failedSource: String?).self) { group in
            var warmed = 0
            var failed: Set<String> = []
            var next = loads.makeIterator()
            func startNext() -> Bool {
                guard let item = next.next() else { return false }
                group.addTask {
                    do {
                        guard let loaded = try await item.load(item.key) else { return (false, nil) }
                        await cache.set(loaded.key, value: loaded.value, ttl: loaded.ttl)
                        return (true, nil)
                    } catch {
                        return (false, item.source)
                    }
                }
                return true
            }
            for _ in 0..<configuration.maxConcurrentLoads where !startNext() { break }
            while let result = await group.next() {
                if result.stored { warmed += 1 }
                if let source = result.failedSource { failed.insert(source) }
                _ = startNext()
            }
            return (warmed, failed)
        }
    }

    /// Warms now and then every `interval` on `clock` until `stopWarming()`; a second call
    /// replaces the first schedule.
    public func startWarming(every interval: Duration, clock: any Clock<Duration> = ContinuousClock()) {
        let task = Task { [self] in
            while !Task.isCancelled {
                await warmNow()
                do { try await clock.sleep(for: interval) } catch { return }
            }
        }
        state.withLock { state in
            state.schedule?.cancel()
            state.schedule = task
        }
    }

    /// Stops the schedule started by `startWarming`.
    public func stopWarming() {
        state.withLock { state in
            state.schedule?.cancel()
            state.schedule = nil
        }
    }
}
