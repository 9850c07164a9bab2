import Foundation
public import PacaCore
import PacaStorage

/// Decides what to warm and when, from the requests it is told of and the outcomes of its own
/// warming. Pure logic on an injected time: `Prewarmer` runs it on a timer against the proxy,
/// `paca simulate --warm` against a simulated cache, tests step by step.
///
/// - Requests feed the popularity and sequence models and tell the planner which entries are in
///   the cache until when (the access record's `ttl`).
/// - Refresh-ahead: an entry due to expire within its lead time (a tenth of its lifetime, 1 to
///   30 s) is refreshed when the chance that it is requested within one more lifetime,
///   `1 − e^(−predicted requests)`, is at least `minimumProbability`. Cold entries expire.
/// - Predictive: every `interval`, the `top` keys by predicted requests over the next interval
///   that are not fresh until then are warmed when their chance of being requested within a
///   lifetime passes the same bar (the hour-of-week profile makes Monday 9:00's set rise just
///   before 9:00).
/// - Followers: when A is requested and B followed A with probability `followerProbability` (and
///   at least twice as often as chance), B is warmed unless fresh.
/// - Start-up: the `top` predicted keys, hottest first, promoted from L2/L3, then fetched.
///
/// Jobs wait in a queue bounded by `maxQueue` (a full queue drops its lowest job), are sent in
/// priority order (manual, refresh, follower, start-up, predicted; then by score) within the
/// `OriginPacer`'s budget, and one key is never queued or in flight twice.
public struct WarmingPlanner: Sendable {
    /// The planner's parameters.
    public struct Configuration: Sendable, Equatable {
        /// Keys considered per predictive pass and at start-up (`prewarm.top`).
        public var top = 1000
        /// Time between predictive passes, ms (`prewarm.interval`).
        public var interval: Int64 = 60_000
        /// Warming requests per second to the origin (`prewarm.max_rps`).
        public var maxRequestsPerSecond = 20.0
        /// Warming requests to the origin in flight at once (`prewarm.max_concurrency`).
        public var maxConcurrency = 2
        /// L2/L3 promotions in flight at once (no origin request, no rate).
        public var maxPromotions = 8
        /// The chance of a request within a lifetime needed to warm or refresh
        /// (`prewarm.min_probability`).
        public var minimumProbability = 0.9
        /// Prefetch followers at all (`prewarm.followers`).
        public var followers = true
        /// The probability of following needed to prefetch (`prewarm.follower_probability`).
        public var followerProbability = 0.5
        /// The lifetime assumed for a key whose entry was never seen, ms.
        public var defaultLifetime: Int64 = 60_000
        /// Most jobs waiting.
        public var maxQueue = 10_000

        /// The defaults.
        public init() {}
    }

    /// What the planner believes the cache holds for a key.
    struct KnownEntry: Sendable {
        var expiry: UnixMillis
        var lifetime: Int64
        /// The expiry a refresh was already queued for.
        var refreshQueuedFor: UnixMillis?
        /// The due time of this entry's item in `refreshDue`, if one is outstanding.
        var dueQueued: UnixMillis?
    }

    /// A request the planner is told of.
    public struct Observation: Sendable {
        /// How the cache answered.
        public enum Served: Sendable {
            /// From the cache (fresh, or stale where allowed).
            case hit
            /// From the origin, stored or not.
            case miss
            /// After a conditional request to the origin.
            case revalidated
        }

        /// The cache key (a variant key counts as its primary key).
        public var key: String
        /// The request target.
        public var url: String
        /// When it was made.
        public var time: UnixMillis
        /// How it was served.
        public var served: Served
        /// The entry's remaining freshness in seconds after the request (negative: stale), or
        /// `nil` when nothing is stored.
        public var ttlSeconds: Int?
        /// The origin's latency, when the origin was asked.
        public var originMillis: Double?
        /// A request happening now (`false`: read from an old log, so it teaches the model but
        /// is not counted against warming's results).
        public var live = true

        /// Creates an observation.
        public init(key: String, url: String, time: UnixMillis, served: Served, ttlSeconds: Int?, originMillis: Double? = nil) {
            self.key = WarmJob.primaryKey(of: key)
            self.url = url
            self.time = time
            self.served = served
            self.ttlSeconds = ttlSeconds
            self.originMillis = originMillis
        }
    }

    /// The parameters.
    public let configuration: Configuration
    /// The models.
    public private(set) var model: WarmingModel
    /// The accounts.
    public internal(set) var ledger: WarmingLedger
    /// The origin budget.
    public internal(set) var pacer: OriginPacer
    /// Jobs waiting, by key.
    var queue: [String: WarmJob] = [:]
    /// Keys being warmed.
    public internal(set) var inFlight: [String: WarmJob] = [:]
    /// Entries the planner knows of.
    var entries: BoundedLRUMap<String, KnownEntry>
    /// When each entry is due for a refresh check (`expiry − lead`), earliest first: at most
    /// one outstanding item per entry (`dueQueued`), put back when it comes up before the entry
    /// is due, and items left behind by an entry that became due earlier are skipped. Spares
    /// `plan` a scan of every entry on every tick, which a replay of days of log on the log's
    /// clock cannot afford.
    private var refreshDue = RefreshDueHeap()
    private var lastPredictivePass: UnixMillis?
    private var lastExpiry: UnixMillis?
    /// Jobs dropped because the queue was full.
    public internal(set) var dropped = 0

    /// Creates a planner around `model`.
    public init(configuration: Configuration = Configuration(), model: WarmingModel = WarmingModel()) {
        self.configuration = configuration
        self.model = model
        ledger = WarmingLedger()
        pacer = OriginPacer(maxRequestsPerSecond: configuration.maxRequestsPerSecond, maxConcurrency: configuration.maxConcurrency)
        entries = BoundedLRUMap(capacity: max(16, model.popularity.configuration.capacity))
    }

    /// Jobs waiting.
    public var queued: Int { queue.count }

    // MARK: - Requests

    /// Learns from a client's request; queues the followers it predicts.
    public mutating func observe(_ observation: Observation) {
        let key = observation.key
        let time = observation.time
        model.observe(key, at: time, url: observation.url)
        guard observation.live else { return }
        ledger.requested(key, at: time, hit: observation.served == .hit)
        if let ttl = observation.ttlSeconds {
            let expiry = time + Int64(ttl) * 1000
            var known = entries.peek(key) ?? KnownEntry(expiry: expiry, lifetime: 0)
            known.expiry = expiry
            let remaining = Int64(max(0, ttl)) * 1000
            known.lifetime = observation.served == .hit ? max(known.lifetime, remaining) : remaining
            setEntry(known, for: key)
        } else if observation.served != .hit {
            _ = entries.removeValue(for: key)
        }
        if let millis = observation.originMillis { pacer.noteLatency(millis, at: time) }
        guard configuration.followers else { return }
        let followers = model.followers(of: key, minimumLift: 2).filter { $0.probability >= configuration.followerProbability }
        for follower in followers.prefix(2) where !isFresh(follower.key, until: time + 1000) {
            guard let url = model.popularity.keys[follower.key]?.url else { continue }
            enqueue(job(follower.key, url: url, mode: .fill, reason: .follower, score: follower.probability))
        }
    }

    // MARK: - Planning

    /// The chance that `key` is requested in `[time, time + window)`: `1 − e^(−predicted)`.
    public func probability(of key: String, at time: UnixMillis, within window: Int64) -> Double {
        guard let prediction = model.popularity.prediction(for: key, at: time, within: max(1, window)) else { return 0 }
        return 1 - exp(-prediction.score)
    }

    /// Queues what is due at `now`: refreshes of hot entries about to expire, and every
    /// `interval` the predicted hot keys that are not fresh.
    public mutating func plan(at now: UnixMillis) {
        planRefreshes(at: now)
        if lastPredictivePass.map({ now - $0 >= configuration.interval }) ?? true {
            lastPredictivePass = now
            planPredicted(at: now)
        }
        if lastExpiry.map({ now - $0 >= 10_000 }) ?? true {
            lastExpiry = now
            ledger.expire(at: now)
        }
    }

    private mutating func planRefreshes(at now: UnixMillis) {
        while let due = refreshDue.popFirst(dueBy: now) {
            let key = due.key
            guard var known = entries.peek(key), known.dueQueued == due.due else { continue }
            known.dueQueued = nil
            if known.lifetime > 0, known.expiry > now, known.refreshQueuedFor != known.expiry,
                known.expiry - Self.lead(known.lifetime) > now
            {
                // The entry's expiry moved later since the item was queued: check it then.
                known.dueQueued = known.expiry - Self.lead(known.lifetime)
                refreshDue.insert(key: key, due: known.expiry - Self.lead(known.lifetime))
            }
            _ = entries.set(known, for: key)
            guard known.lifetime > 0, known.expiry > now, known.refreshQueuedFor != known.expiry,
                known.expiry - Self.lead(known.lifetime) <= now
            else { continue }
            known.refreshQueuedFor = known.expiry
            _ = entries.set(known, for: key)
            let chance = probability(of: key, at: known.expiry, within: known.lifetime)
            guard chance >= configuration.minimumProbability, let url = model.popularity.keys[key]?.url else { continue }
            enqueue(job(key, url: url, mode: .refresh, reason: .refresh, score: chance))
        }
    }

    private mutating func planPredicted(at now: UnixMillis) {
        let horizon = now + configuration.interval
        for prediction in model.popularity.top(configuration.top, at: now, within: configuration.interval) {
            guard !isFresh(prediction.key, until: horizon), let url = prediction.url else { continue }
            let lifetime = entries.peek(prediction.key).map { $0.lifetime > 0 ? $0.lifetime : configuration.defaultLifetime }
            let window = max(lifetime ?? configuration.defaultLifetime, configuration.interval)
            let chance = probability(of: prediction.key, at: now, within: window)
            guard chance >= configuration.minimumProbability else { continue }
            enqueue(job(prediction.key, url: url, mode: .fill, reason: .predicted, score: prediction.score))
        }
    }

    /// Queues the `top` keys predicted for the next interval, hottest first, to be promoted from
    /// L2/L3 and, failing that, fetched (after a restart, with an empty L1).
    public mutating func planStartup(at now: UnixMillis, top: Int? = nil) {
        for prediction in model.popularity.top(top ?? configuration.top, at: now, within: configuration.interval) {
            guard let url = prediction.url else { continue }
            enqueue(job(prediction.key, url: url, mode: .promote, reason: .startup, score: prediction.score))
        }
    }

    /// Queues URLs asked for by the operator, first in line.
    public mutating func planManual(urls: [String], keys: [String]) {
        for (index, url) in urls.enumerated() {
            let key = index < keys.count ? keys[index] : url
            enqueue(job(key, url: url, mode: .fill, reason: .manual, score: Double(urls.count - index)))
        }
    }

    /// Drops the queued jobs of `reason` (start-up warming that reached L1's budget).
    public mutating func dropQueued(reason: WarmJob.Reason) {
        queue = queue.filter { $0.value.reason != reason }
    }

    /// Records what the cache holds for `key` and when it comes up for a refresh check.
    mutating func setEntry(_ known: KnownEntry, for key: String) {
        var known = known
        known.dueQueued = entries.peek(key)?.dueQueued
        if known.lifetime > 0 {
            let due = known.expiry - Self.lead(known.lifetime)
            // An outstanding item due no later is put back when it comes up early.
            if known.dueQueued.map({ $0 > due }) ?? true {
                known.dueQueued = due
                refreshDue.insert(key: key, due: due)
            }
        }
        _ = entries.set(known, for: key)
    }

    /// Lead time of a refresh for an entry living `lifetime` ms: a tenth of it, 1 to 30 s.
    static func lead(_ lifetime: Int64) -> Int64 {
        min(30_000, max(1000, lifetime / 10))
    }

    /// Whether the planner believes `key` stays fresh in the cache until `time`.
    func isFresh(_ key: String, until time: UnixMillis) -> Bool {
        entries.peek(key).map { $0.expiry > time } ?? false
    }

    private func job(_ key: String, url: String, mode: WarmRequest.Mode, reason: WarmJob.Reason, score: Double) -> WarmJob {
        WarmJob(key: key, url: url, host: WarmJob.host(ofKey: key), mode: mode, reason: reason, score: score)
    }
}
