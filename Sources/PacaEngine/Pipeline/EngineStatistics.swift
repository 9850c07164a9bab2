import Synchronization

/// Engine-wide counters: one atomic increment each, never a lock on the hit path.
public final class EngineStatistics: Sendable {
    let requests = Atomic<Int>(0)
    let hits = Atomic<Int>(0)
    let misses = Atomic<Int>(0)
    let passes = Atomic<Int>(0)
    let originFetches = Atomic<Int>(0)
    let originErrors = Atomic<Int>(0)
    let collapsed = Atomic<Int>(0)
    let stored = Atomic<Int>(0)
    let staleServed = Atomic<Int>(0)
    let backgroundRefreshes = Atomic<Int>(0)
    let revalidations = Atomic<Int>(0)
    let invalidations = Atomic<Int>(0)
    let notStored = Atomic<Int>(0)

    init() {}

    /// A snapshot of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var requests, hits, misses, passes, originFetches, originErrors, collapsed, stored, notStored, staleServed, revalidations,
            invalidations, backgroundRefreshes: Int
    }

    /// Reads every counter.
    public func snapshot() -> Snapshot {
        Snapshot(
            requests: requests.load(ordering: .relaxed), hits: hits.load(ordering: .relaxed),
            misses: misses.load(ordering: .relaxed), passes: passes.load(ordering: .relaxed),
            originFetches: originFetches.load(ordering: .relaxed), originErrors: originErrors.load(ordering: .relaxed),
            collapsed: collapsed.load(ordering: .relaxed), stored: stored.load(ordering: .relaxed),
            notStored: notStored.load(ordering: .relaxed), staleServed: staleServed.load(ordering: .relaxed),
            revalidations: revalidations.load(ordering: .relaxed), invalidations: invalidations.load(ordering: .relaxed),
            backgroundRefreshes: backgroundRefreshes.load(ordering: .relaxed))
    }
}

extension Atomic<Int> {
    @inline(__always)
    func increment() {
        wrappingAdd(1, ordering: .relaxed)
    }
}
