import Atomics
import PacaCore
import Synchronization

/// Engine-wide counters: one atomic increment each, never a lock on the hit path. Those that
/// every request touches (requests, hits, misses, passes, hits per tier, and each route's) are
/// striped per event loop (`StripedCounters`), so loops on different cores never share their
/// cache lines; the rarer ones are plain atomics.
public final class EngineStatistics: Sendable {
    /// The per-request counters, by `PerRequest` index.
    private let perRequest = StripedCounters(count: PerRequest.allCases.count)

    private enum PerRequest: Int, CaseIterable {
        case requests, hits, misses, passes, hitsL1, hitsL2, hitsL3
    }
    let originFetches = Atomic<Int>(0)
    let originErrors = Atomic<Int>(0)
    let collapsed = Atomic<Int>(0)
    let stored = Atomic<Int>(0)
    let staleServed = Atomic<Int>(0)
    let backgroundRefreshes = Atomic<Int>(0)
    let revalidations = Atomic<Int>(0)
    let invalidations = Atomic<Int>(0)
    let notStored = Atomic<Int>(0)
    /// Misses whose leader found the nodes' lock held and waited on another node's fill.
    let sharedFillWaits = Atomic<Int>(0)
    /// Of those, the ones served from what the other node stored.
    let sharedFillServed = Atomic<Int>(0)
    /// Waits that ended at the lock timeout (a holder that died or is slow).
    let sharedFillTimeouts = Atomic<Int>(0)
    /// Leaders that fetched at once because another node's answer was not shared (pass marker).
    let sharedFillPassed = Atomic<Int>(0)
    /// Leaders that fetched without the nodes' lock because Redis was slow, down or skipped.
    let sharedFillUnavailable = Atomic<Int>(0)
    /// Origin failures by kind: connect, timeout, protocol, too-large, shut-down.
    let errorKinds = (0..<OriginErrorKind.allCases.count).map { _ in ManagedAtomic<Int>(0) }
    /// Per-route counters, by route name: an immutable table swapped whole when a route name is
    /// first seen, so a lookup is one atomic load and a dictionary read.
    private let routeTable = ManagedAtomic(RouteTableBox([:]))
    /// Serialises the rare inserts into `routeTable` (never taken on a lookup).
    private let routeInsert = Mutex(())

    /// Most distinct route names counted; later names share `otherRoute`. Routes are finite, but
    /// reloads can rename them.
    public static let maxRoutes = 256
    /// The route name that stands for every name past `maxRoutes`.
    public static let otherRoute = "_other"

    init() {}

    /// What kind of origin failure an `OriginError` is.
    public enum OriginErrorKind: String, Sendable, CaseIterable {
        case connect, timeout, `protocol`, tooLarge = "too_large", shutdown

        init(_ error: OriginError) {
            switch error {
            case .connectFailed: self = .connect
            case .timedOut: self = .timeout
            case .protocolError: self = .protocol
            case .responseTooLarge: self = .tooLarge
            case .shutDown: self = .shutdown
            }
        }
    }

    /// One route's counters and latency histograms.
    public final class RouteStatistics: Sendable {
        /// The route's name.
        public let name: String
        /// Hits, misses and passes, by `Outcome`, striped per event loop.
        let outcomes = StripedCounters(count: Outcome.allCases.count)

        enum Outcome: Int, CaseIterable {
            case hit, miss, pass
        }
        /// Time from the request to the response head (a hit: the whole answer).
        public let requestDuration = LatencyHistogram()
        /// Time from sending to the origin to its response head.
        public let originDuration = LatencyHistogram()

        init(name: String) {
            self.name = name
        }
    }

    /// The counters of the route called `name`, created on first use.
    @inline(__always)
    public func route(_ name: String) -> RouteStatistics {
        if let found = routeTable.load(ordering: .acquiring).routes[name] { return found }
        return insertRoute(name)
    }

    private func insertRoute(_ name: String) -> RouteStatistics {
        routeInsert.withLock { _ in
            var routes = routeTable.load(ordering: .acquiring).routes
            if let found = routes[name] { return found }
            let key = routes.count < Self.maxRoutes ? name : Self.otherRoute
            if let found = routes[key] { return found }
            let created = RouteStatistics(name: key)
            routes[key] = created
            routeTable.store(RouteTableBox(routes), ordering: .releasing)
            return created
        }
    }

    /// A hit served from `tier` for `route`.
    @inline(__always)
    func hit(_ route: RouteStatistics, tier: String) {
        let stripe = StripedCounters.stripe
        let tierIndex: PerRequest =
            switch tier {
            case "l1": .hitsL1
            case "l2": .hitsL2
            default: .hitsL3
            }
        perRequest.add(1, to: PerRequest.hits.rawValue, stripe: stripe)
        perRequest.add(1, to: tierIndex.rawValue, stripe: stripe)
        route.outcomes.add(1, to: RouteStatistics.Outcome.hit.rawValue, stripe: stripe)
    }

    /// A cacheable request of `route` that found nothing usable.
    func miss(_ route: RouteStatistics) {
        let stripe = StripedCounters.stripe
        perRequest.add(1, to: PerRequest.misses.rawValue, stripe: stripe)
        route.outcomes.add(1, to: RouteStatistics.Outcome.miss.rawValue, stripe: stripe)
    }

    /// A request of `route` passed to the origin uncached.
    func pass(_ route: RouteStatistics) {
        let stripe = StripedCounters.stripe
        perRequest.add(1, to: PerRequest.passes.rawValue, stripe: stripe)
        route.outcomes.add(1, to: RouteStatistics.Outcome.pass.rawValue, stripe: stripe)
    }

    /// A request reached the engine.
    @inline(__always)
    func requestReceived() {
        perRequest.add(1, to: PerRequest.requests.rawValue)
    }

    /// An origin exchange of `route` that answered after `nanoseconds`.
    func originAnswered(_ route: RouteStatistics, nanoseconds: Int64) {
        route.originDuration.record(nanoseconds: nanoseconds)
    }

    /// An origin exchange that failed.
    func originFailed(_ error: OriginError) {
        originErrors.increment()
        errorKinds[OriginErrorKind.allCases.firstIndex(of: OriginErrorKind(error))!].wrappingIncrement(ordering: .relaxed)
    }

    /// A snapshot of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var requests, hits, misses, passes, originFetches, originErrors, collapsed, stored, notStored, staleServed, revalidations,
            invalidations, backgroundRefreshes: Int
        /// Hits served per tier, by name (`l1`, `l2`, `l3`).
        public var tierHits: [String: Int] = [:]
        /// Origin failures per kind (`connect`, `timeout`, `protocol`, `too_large`, `shutdown`).
        public var errorKinds: [String: Int] = [:]
        /// Coalescing across nodes: `waited` (on another node's fill), `served` (from it),
        /// `timed_out`, `passed` (its answer was not shared), `unavailable` (Redis could not
        /// lock: per-node coalescing only).
        public var sharedFill: [String: Int] = [:]
    }

    /// Reads every counter.
    public func snapshot() -> Snapshot {
        var snapshot = Snapshot(
            requests: perRequest.sum(PerRequest.requests.rawValue), hits: perRequest.sum(PerRequest.hits.rawValue),
            misses: perRequest.sum(PerRequest.misses.rawValue), passes: perRequest.sum(PerRequest.passes.rawValue),
            originFetches: originFetches.load(ordering: .relaxed), originErrors: originErrors.load(ordering: .relaxed),
            collapsed: collapsed.load(ordering: .relaxed), stored: stored.load(ordering: .relaxed),
            notStored: notStored.load(ordering: .relaxed), staleServed: staleServed.load(ordering: .relaxed),
            revalidations: revalidations.load(ordering: .relaxed), invalidations: invalidations.load(ordering: .relaxed),
            backgroundRefreshes: backgroundRefreshes.load(ordering: .relaxed))
        for (index, name) in [PerRequest.hitsL1: "l1", .hitsL2: "l2", .hitsL3: "l3"] {
            snapshot.tierHits[name] = perRequest.sum(index.rawValue)
        }
        snapshot.sharedFill = [
            "waited": sharedFillWaits.load(ordering: .relaxed), "served": sharedFillServed.load(ordering: .relaxed),
            "timed_out": sharedFillTimeouts.load(ordering: .relaxed), "passed": sharedFillPassed.load(ordering: .relaxed),
            "unavailable": sharedFillUnavailable.load(ordering: .relaxed),
        ]
        for (index, kind) in OriginErrorKind.allCases.enumerated() {
            snapshot.errorKinds[kind.rawValue] = errorKinds[index].load(ordering: .relaxed)
        }
        return snapshot
    }

    /// One route's counters and histograms as they are now.
    public struct RouteSnapshot: Sendable, Equatable {
        public var name: String
        public var hits, misses, passes: Int
        public var requestDuration, originDuration: LatencyHistogram.Snapshot
    }

    /// Every route configured or seen so far (a route removed by a reload keeps its counters), by name.
    public func routeSnapshots() -> [RouteSnapshot] {
        routeTable.load(ordering: .acquiring).routes.values.map { route in
            RouteSnapshot(
                name: route.name, hits: route.outcomes.sum(RouteStatistics.Outcome.hit.rawValue),
                misses: route.outcomes.sum(RouteStatistics.Outcome.miss.rawValue),
                passes: route.outcomes.sum(RouteStatistics.Outcome.pass.rawValue), requestDuration: route.requestDuration.snapshot(),
                originDuration: route.originDuration.snapshot())
        }.sorted { $0.name < $1.name }
    }
}

/// The per-route table, swapped whole.
final class RouteTableBox: AtomicReference, Sendable {
    let routes: [String: EngineStatistics.RouteStatistics]

    init(_ routes: [String: EngineStatistics.RouteStatistics]) {
        self.routes = routes
    }
}

extension Atomic<Int> {
    @inline(__always)
    func increment() {
        wrappingAdd(1, ordering: .relaxed)
    }
}
