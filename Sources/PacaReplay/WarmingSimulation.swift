import NIOCore
public import PacaAccessLog
public import PacaCore
public import PacaStorage
public import PacaWarming

/// Replays a log on the log's clock against a simulated L1 (`MemoryCacheSimulator`, the same
/// policy code as `CacheSimulation` and the proxy, entries expiring after their TTL), with or
/// without a `WarmingPlanner` deciding what to fetch ahead of the clients (`paca simulate --warm`).
///
/// The planner runs as the proxy's `Prewarmer` runs it: `plan(at:)` at every tick (1 s) of the
/// log's clock, `dispatch(at:)` at every tick, whenever `nextDispatch(after:)` says the pacer
/// allows a send, and after each completion. A dispatched job is a simulated origin fetch that
/// completes `originMillis` later: it stores the URL's entry with the TTL the log last gave the
/// URL (`.fill` of an entry that is already fresh does nothing). Each logged request is then
/// served (a hit when L1 holds it fresh, else a client origin request whose answer is stored)
/// and `observe`d, with the freshness left after it, exactly what the proxy's access log tells
/// the prewarmer.
///
/// The model learns online from the log itself, never from requests ahead of the clock. The
/// first `trainingMillis` of the log are counted apart (`training`), so a model that starts
/// empty is judged on the rest (`measured`).
public final class WarmingSimulation {
    /// The simulation's parameters.
    public struct Options: Sendable {
        /// The L1 budget in bytes.
        public var l1Bytes: Int
        /// The L1 policy (default TinyLFU, paca's default).
        public var policy: EvictionPolicy = .tinyLFU
        /// Shards as in paca's L1 (default 16).
        public var shardCount = 16
        /// Warm at all.
        public var warming: Bool
        /// The planner's parameters (default: the proxy's defaults).
        public var planner = WarmingPlanner.Configuration()
        /// The most keys the model tracks (default 10,000, the proxy's `prewarm.capacity`).
        public var modelCapacity = 10_000
        /// How long a warming fetch takes, ms (default 50).
        public var originMillis: Int64 = 50
        /// The planner's tick, ms (default 1000, as the proxy's).
        public var tick: Int64 = 1000
        /// The training period at the start of the log, ms (default one day).
        public var trainingMillis: Int64 = 86_400_000

        /// Creates options for an L1 of `l1Bytes`, warming or not.
        public init(l1Bytes: Int, warming: Bool) {
            self.l1Bytes = l1Bytes
            self.warming = warming
        }
    }

    /// What one period counted.
    public struct Counts: Sendable, Equatable, Codable {
        /// Cacheable requests replayed.
        public var requests = 0
        /// ...answered from L1.
        public var hits = 0
        /// Requests that went to the origin (the misses).
        public var clientOriginRequests = 0
        /// Origin requests made by warming.
        public var warmingOriginRequests = 0
        /// Warming totals of the period (the ledger's counters over it).
        public var warming = WarmingLedger.Totals()

        /// Hits over requests (0 without requests).
        public var hitRatio: Double { requests == 0 ? 0 : Double(hits) / Double(requests) }
        /// Client and warming origin requests.
        public var originRequests: Int { clientOriginRequests + warmingOriginRequests }
        /// Warming's share of origin requests (0 without any).
        public var warmingShare: Double {
            originRequests == 0 ? 0 : Double(warmingOriginRequests) / Double(originRequests)
        }

        /// Creates empty counts.
        public init() {}
    }

    /// The parameters.
    public let options: Options
    /// The planner (its ledger covers the whole log).
    public private(set) var planner: WarmingPlanner
    /// Counts of the training period.
    public private(set) var training = Counts()
    /// Counts after it.
    public private(set) var measured = Counts()
    /// Requests the keying found uncacheable.
    public private(set) var uncacheable = 0

    private struct Known {
        var url: String
        var ttlSeconds: Int?
        var bytes: Int
        /// The expiry of the entry last stored, if any.
        var expiry: UnixMillis?
    }

    private struct Completion {
        var time: UnixMillis
        var job: WarmJob
    }

    private let cache: MemoryCacheSimulator
    private var known: [String: Known] = [:]
    /// Warming fetches in flight, in completion order (all take the same time).
    private var completions: [Completion] = []
    private var completionHead = 0
    private var start: UnixMillis?
    private var cursor: UnixMillis = .min
    private var nextTick: UnixMillis = .min
    private var trainingLedger: WarmingLedger.Totals?
    private let emptyBody = ByteBuffer()

    /// Creates a simulation.
    public init(options: Options) {
        self.options = options
        let model = WarmingModel(popularity: .init(capacity: options.modelCapacity))
        planner = WarmingPlanner(configuration: options.planner, model: model)
        cache = MemoryCacheSimulator(maxBytes: options.l1Bytes, policy: options.policy, shardCount: options.shardCount)
    }

    /// Counts over the whole log.
    public var total: Counts {
        var counts = Counts()
        for part in [training, measured] {
            counts.requests += part.requests
            counts.hits += part.hits
            counts.clientOriginRequests += part.clientOriginRequests
            counts.warmingOriginRequests += part.warmingOriginRequests
        }
        counts.warming = planner.ledger.totals
        return counts
    }

    /// Replays one logged request keyed by `keying` (requests without a time are skipped).
    public func record(_ request: LogRequest, keying: SimulationKeying) {
        guard let time = request.timestamp, case .cacheable(let key, let ttlSeconds) = keying.decide(request) else {
            uncacheable += 1
            return
        }
        record(key: key, url: request.url, ttlSeconds: ttlSeconds, bytes: max(0, request.bytes ?? 0), at: time)
    }

    /// Replays every request of `reader`; returns the reader's report.
    @discardableResult
    public func run(_ reader: LogReader, keying: SimulationKeying) throws -> LogReadReport {
        let report = try reader.forEach { record($0, keying: keying) }
        finish()
        return report
    }

    /// Replays a request for `key` (fetched as `url`, living `ttlSeconds`, `bytes` long) at
    /// `time`. Times must not go backwards by more than the log's jitter: an earlier time is
    /// served at the latest time seen.
    public func record(key: String, url: String, ttlSeconds: Int?, bytes: Int, at time: UnixMillis) {
        if start == nil {
            start = time
            nextTick = time
        }
        let now = max(time, cursor)
        if options.warming { advance(to: now) }
        cursor = now
        let inTraining = now - start! < options.trainingMillis
        if !inTraining, trainingLedger == nil { trainingLedger = planner.ledger.totals }

        var entry = known[key] ?? Known(url: url, ttlSeconds: ttlSeconds, bytes: bytes)
        entry.url = url
        entry.ttlSeconds = ttlSeconds
        entry.bytes = bytes
        let hash = Int(truncatingIfNeeded: FNV1a.hash(key))
        let hit = cache.lookup(key, hash: hash, now: now)
        var remaining: Int?
        if hit, let expiry = entry.expiry {
            remaining = Int((expiry - now) / 1000)
        } else if !hit {
            remaining = ttlSeconds
            entry.expiry = store(key, ttlSeconds: ttlSeconds, bytes: bytes, hash: hash, at: now)
        }
        known[key] = entry
        if inTraining {
            count(&training, hit: hit)
        } else {
            count(&measured, hit: hit)
        }
        guard options.warming else { return }
        planner.observe(
            WarmingPlanner.Observation(
                key: key, url: url, time: now, served: hit ? .hit : .miss, ttlSeconds: remaining,
                originMillis: hit ? nil : Double(options.originMillis)))
    }

    /// Completes the warming fetches still in flight and closes the periods.
    public func finish() {
        if options.warming { advance(to: cursor + options.originMillis) }
        let totals = planner.ledger.totals
        if let before = trainingLedger {
            training.warming = before
            measured.warming = Self.difference(totals, before)
        } else {
            training.warming = totals
        }
    }

    private func count(_ counts: inout Counts, hit: Bool) {
        counts.requests += 1
        if hit { counts.hits += 1 } else { counts.clientOriginRequests += 1 }
    }

    /// Stores an entry for `key` fetched at `now`; returns its expiry, or `nil` when L1 refused it.
    private func store(_ key: String, ttlSeconds: Int?, bytes: Int, hash: Int, at now: UnixMillis) -> UnixMillis? {
        let lifetime = ttlSeconds.map { Int64(max(0, $0)) * 1000 } ?? .max / 2
        let expiry = now + lifetime
        let timing = EntryTiming(
            requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: lifetime, storageExpiry: expiry)
        let entry = CacheEntry(key: key, status: 200, headers: [], body: emptyBody, timing: timing)
        return cache.insert(entry, cost: bytes, hash: hash) == .stored ? expiry : nil
    }

    // MARK: - Warming

    /// Runs the planner's ticks, sends and completions due up to `time`.
    private func advance(to time: UnixMillis) {
        var now = cursor
        while true {
            var wake = nextTick
            if completionHead < completions.count { wake = min(wake, completions[completionHead].time) }
            if let next = planner.nextDispatch(after: now) { wake = min(wake, max(next, now + 1)) }
            guard wake <= time else { break }
            now = wake
            while completionHead < completions.count, completions[completionHead].time <= now {
                let job = completions[completionHead].job
                completionHead += 1
                planner.completed(job, with: carryOut(job, at: now), at: now)
            }
            if completionHead > 4096, completionHead * 2 > completions.count {
                completions.removeFirst(completionHead)
                completionHead = 0
            }
            if now == nextTick {
                planner.plan(at: now)
                nextTick += options.tick
            }
            for job in planner.dispatch(at: now) {
                completions.append(Completion(time: now + (job.mode == .promote ? 0 : options.originMillis), job: job))
            }
        }
    }

    /// What a warming job does to the simulated cache when its fetch completes at `now`.
    private func carryOut(_ job: WarmJob, at now: UnixMillis) -> WarmOutcome {
        guard var entry = known[job.key] else { return .skipped(reason: "unknown URL") }
        let hash = Int(truncatingIfNeeded: FNV1a.hash(job.key))
        let lifetime = entry.ttlSeconds.map { Int64(max(0, $0)) * 1000 } ?? .max / 2
        switch job.mode {
        case .promote:
            // No L2/L3 in the simulation.
            return .notCached
        case .fill:
            if let expiry = entry.expiry, expiry > now, cache.lookup(job.key, hash: hash, now: now) {
                return .fresh(WarmOutcome.Entry(key: job.key, expiry: expiry, lifetime: lifetime, bytes: entry.bytes))
            }
        case .refresh:
            break
        }
        count(warmingOriginRequestAt: now)
        guard let expiry = store(job.key, ttlSeconds: entry.ttlSeconds, bytes: entry.bytes, hash: hash, at: now) else {
            return .notStored(status: 200, originMillis: Double(options.originMillis))
        }
        entry.expiry = expiry
        known[job.key] = entry
        return .fetched(
            WarmOutcome.Entry(key: job.key, expiry: expiry, lifetime: lifetime, bytes: entry.bytes),
            originMillis: Double(options.originMillis), notModified: job.mode == .refresh)
    }

    private func count(warmingOriginRequestAt now: UnixMillis) {
        if let start, now - start < options.trainingMillis {
            training.warmingOriginRequests += 1
        } else {
            measured.warmingOriginRequests += 1
        }
    }

    static func difference(_ a: WarmingLedger.Totals, _ b: WarmingLedger.Totals) -> WarmingLedger.Totals {
        var d = WarmingLedger.Totals()
        d.warmed = a.warmed - b.warmed
        d.used = a.used - b.used
        d.wasted = a.wasted - b.wasted
        d.savedMisses = a.savedMisses - b.savedMisses
        d.originRequests = a.originRequests - b.originRequests
        d.originErrors = a.originErrors - b.originErrors
        d.promoted = a.promoted - b.promoted
        d.alreadyFresh = a.alreadyFresh - b.alreadyFresh
        d.clientRequests = a.clientRequests - b.clientRequests
        d.clientOriginRequests = a.clientOriginRequests - b.clientOriginRequests
        for (reason, count) in a.warmedByReason {
            d.warmedByReason[reason] = count - (b.warmedByReason[reason] ?? 0)
        }
        return d
    }
}
