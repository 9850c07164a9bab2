public import PacaCore
public import PacaStorage

extension CacheWarming {
    /// Counters of follower prefetches since the warmer was created.
    public struct PrefetchStatistics: Sendable, Equatable {
        /// Prefetches started (a follower not already being prefetched, with room to queue).
        public var started: Int
        /// Followers dropped because `maxPendingPrefetches` were pending.
        public var dropped: Int
        /// Items stored.
        public var loaded: Int
        /// Prefetches that found the key fresh in the cache and loaded nothing.
        public var skippedFresh: Int
        /// Prefetches whose source threw.
        public var failed: Int

        /// Creates counters.
        public init(started: Int = 0, dropped: Int = 0, loaded: Int = 0, skippedFresh: Int = 0, failed: Int = 0) {
            self.started = started
            self.dropped = dropped
            self.loaded = loaded
            self.skippedFresh = skippedFresh
            self.failed = failed
        }
    }

    /// Records a read of `key` now; call it on each read of the cache (or read through
    /// `get(_:)`).
    public func recordAccess(_ key: String) {
        recordAccess(key, at: clock.now())
    }

    /// Records a read of `key` at `time` in the model (one short lock; the update is O(1)
    /// amortised). When a per-key source is registered, the keys that follow `key` with at least
    /// `followerProbability` and `followerMinimumLift` are prefetched in the background unless
    /// the cache holds them fresh; at most `maxPendingPrefetches` are pending, the rest dropped.
    public func recordAccess(_ key: String, at time: UnixMillis) {
        let configuration = self.configuration
        let prefetches = state.withLock { state -> [(key: String, id: UInt64)] in
            state.model.observe(key, at: time)
            guard configuration.followerProbability <= 1, state.hasKeySources else { return [] }
            var chosen: [(key: String, id: UInt64)] = []
            for follower in state.model.followers(of: key, minimumLift: configuration.followerMinimumLift)
            where follower.probability >= configuration.followerProbability && follower.key != key
                && state.prefetching[follower.key] == nil
            {
                guard state.prefetching.count < configuration.maxPendingPrefetches else {
                    state.prefetchStatistics.dropped += 1
                    continue
                }
                let id = state.nextPrefetchID
                state.nextPrefetchID &+= 1
                state.prefetching[follower.key] = id
                state.prefetchStatistics.started += 1
                chosen.append((follower.key, id))
            }
            return chosen
        }
        for (follower, id) in prefetches {
            let task = Task { [self] in
                let outcome = await prefetch(follower)
                finishPrefetch(follower, id: id, outcome: outcome)
            }
            state.withLock { state in
                if state.prefetching[follower] == id { state.prefetchTasks[id] = task }
            }
        }
    }

    /// `cache.get(key)`, recorded as a read (so it feeds the model and may prefetch followers).
    public func get(_ key: String) async -> CacheValue? {
        recordAccess(key)
        return await cache.get(key)
    }

    /// The prefetch counters.
    public var prefetchStatistics: PrefetchStatistics {
        state.withLock { $0.prefetchStatistics }
    }

    /// Returns when every prefetch started so far has finished (for tests and orderly shutdown).
    public func waitForPrefetches() async {
        while true {
            let tasks = state.withLock { Array($0.prefetchTasks.values) }
            guard !tasks.isEmpty else { return }
            for task in tasks { await task.value }
        }
    }

    enum PrefetchOutcome {
        case loaded, fresh, failed, unavailable
    }

    private func prefetch(_ key: String) async -> PrefetchOutcome {
        let sources = state.withLock { $0.sources }
        var loader: KeyLoader?
        for (_, source) in sources {
            if case .perKey(let claims, let load) = source, claims(key) {
                loader = load
                break
            }
        }
        guard let loader else { return .unavailable }
        if await cache.contains(key) { return .fresh }
        do {
            guard let item = try await loader(key) else { return .unavailable }
            await cache.set(item.key, value: item.value, ttl: item.ttl)
            return .loaded
        } catch {
            return .failed
        }
    }

    private func finishPrefetch(_ key: String, id: UInt64, outcome: PrefetchOutcome) {
        state.withLock { state in
            if state.prefetching[key] == id { state.prefetching[key] = nil }
            state.prefetchTasks[id] = nil
            switch outcome {
            case .loaded: state.prefetchStatistics.loaded += 1
            case .fresh: state.prefetchStatistics.skippedFresh += 1
            case .failed: state.prefetchStatistics.failed += 1
            case .unavailable: break
            }
        }
    }
}
