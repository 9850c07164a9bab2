import Foundation
public import Logging
public import PacaAccessLog
public import PacaCore
import Synchronization

/// Carries out warming requests (the proxy's pipeline, or a simulation).
public protocol WarmingFetcher: Sendable {
    /// Warms as `request` says and calls `completion` once with what was done.
    func warm(_ request: WarmRequest, completion: @escaping @Sendable (WarmOutcome) -> Void)
}

/// Runs a `WarmingPlanner` against a live proxy: fed by the access records as they are written
/// (on the log's writer thread, never on a request's path), woken by its own task to plan and
/// send, and saving its model every `saveInterval` and at shutdown.
public final class Prewarmer: Sendable {
    /// What the prewarmer needs beyond the planner's parameters.
    public struct Settings: Sendable {
        /// The planner's parameters.
        public var planner: WarmingPlanner.Configuration
        /// Where the model is saved, or `nil` for not at all.
        public var modelPath: String?
        /// How often the model is saved. Default 5 minutes.
        public var saveInterval: Duration = .seconds(300)
        /// The planner's clock tick: refresh-ahead is checked this often. Default 1 s.
        public var tick: Duration = .seconds(1)

        /// Creates settings.
        public init(planner: WarmingPlanner.Configuration, modelPath: String? = nil) {
            self.planner = planner
            self.modelPath = modelPath
        }
    }

    /// What `GET /prewarm`, `/stats` and `/metrics` show.
    public struct Status: Sendable, Equatable {
        /// Totals since start.
        public var totals: WarmingLedger.Totals
        /// Jobs waiting and in flight.
        public var queued: Int
        public var inFlight: Int
        /// Jobs dropped because the queue was full.
        public var dropped: Int
        /// Keys the model tracks.
        public var trackedKeys: Int
        /// The pace: full, reduced or paused; and the rate in force.
        public var condition: OriginPacer.Condition
        public var rate: Double
        /// Times the pace was cut.
        public var backoffs: Int
        /// Where the model is saved.
        public var modelPath: String?
    }

    private struct State {
        var planner: WarmingPlanner
        var runner: Task<Void, Never>?
        var lastSave: UnixMillis
        var stopped = false
        /// `waitUntilIdle` callers.
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var isIdle: Bool { planner.inFlight.isEmpty }

        mutating func takeIdleWaiters() -> [CheckedContinuation<Void, Never>] {
            guard isIdle || stopped else { return [] }
            defer { idleWaiters = [] }
            return idleWaiters
        }
    }

    private let state: Mutex<State>
    private let settings: Settings
    private let fetcher: any WarmingFetcher
    private let clock: any WallClock
    private let sleepClock: any Clock<Duration>
    private let memoryHasRoom: @Sendable () -> Bool
    private let logger: Logger

    /// Creates a prewarmer around `model`; `memoryHasRoom` says whether L1 is under its budget
    /// (start-up warming stops when it is not).
    public init(
        settings: Settings, model: WarmingModel, fetcher: any WarmingFetcher, clock: any WallClock,
        sleepClock: any Clock<Duration> = ContinuousClock(), memoryHasRoom: @escaping @Sendable () -> Bool = { true },
        logger: Logger = Logger(label: "paca.prewarm")
    ) {
        self.settings = settings
        self.sleepClock = sleepClock
        self.fetcher = fetcher
        self.clock = clock
        self.memoryHasRoom = memoryHasRoom
        self.logger = logger
        state = Mutex(State(planner: WarmingPlanner(configuration: settings.planner, model: model), lastSave: clock.now()))
    }

    // MARK: - Feeding

    /// Learns from access records (the access log's tap): client GETs and HEADs the cache
    /// answered or filled. Background refreshes, passes and bypasses are not client demand.
    public func observe(_ records: [AccessLogRecord]) {
        let observations = records.compactMap(Self.observation)
        guard !observations.isEmpty else { return }
        state.withLock { state in
            for observation in observations { state.planner.observe(observation) }
        }
    }

    static func observation(_ record: AccessLogRecord) -> WarmingPlanner.Observation? {
        guard !record.background, !record.key.isEmpty, record.method == "GET" || record.method == "HEAD" else { return nil }
        let served: WarmingPlanner.Observation.Served
        switch record.cache {
        case .hit, .stale: served = .hit
        case .miss: served = .miss
        case .revalidated: served = .revalidated
        case .bypass, .pass: return nil
        }
        return WarmingPlanner.Observation(
            key: record.key, url: record.url, time: record.timestamp, served: served, ttlSeconds: record.ttl,
            originMillis: record.originMilliseconds)
    }

    /// Learns from requests (logs read at start-up).
    public func observe(_ observations: [WarmingPlanner.Observation]) {
        guard !observations.isEmpty else { return }
        state.withLock { state in
            for observation in observations { state.planner.observe(observation) }
        }
    }

    /// The time of the latest request the model has seen, if any.
    public func newestObservation() -> UnixMillis? {
        state.withLock { $0.planner.model.popularity.keys.values.lazy.map(\.lastSeen).max() }
    }

    // MARK: - Running

    /// Queues the predicted hot set (L2/L3 first, then the origin, until L1's budget) and starts
    /// the task that plans and sends from now on.
    public func start() {
        let now = clock.now()
        state.withLock { state in
            guard state.runner == nil, !state.stopped else { return }
            state.planner.planStartup(at: now)
            state.runner = Task { [self] in await run() }
        }
    }

    private func run() async {
        let tick = settings.tick
        let tickMillis = max(1, tick.components.seconds * 1000 + tick.components.attoseconds / 1_000_000_000_000_000)
        while !Task.isCancelled {
            let now = clock.now()
            let next = state.withLock { $0.planner.nextDispatch(after: now) }
            let wait = max(1, min(tickMillis, (next ?? now + tickMillis) - now))
            do { try await sleepClock.sleep(for: .milliseconds(wait)) } catch { return }
            step()
        }
    }

    /// One step at the clock's time: plan what is due, send what the budget allows, save the
    /// model when it is time. The task calls it; tests call it after moving the clock.
    public func step() {
        let now = clock.now()
        let (jobs, save) = state.withLock { state -> ([WarmJob], Bool) in
            guard !state.stopped else { return ([], false) }
            state.planner.plan(at: now)
            let save = now - state.lastSave >= settings.saveInterval.milliseconds
            if save { state.lastSave = now }
            return (state.planner.dispatch(at: now), save)
        }
        send(jobs, at: now)
        if save { saveModel() }
    }

    private func send(_ jobs: [WarmJob], at now: UnixMillis) {
        var startupStopped = false
        for job in jobs {
            if job.reason == .startup, !memoryHasRoom() {
                // L1 is at its budget: the rest of the start-up set would only evict itself.
                if !startupStopped {
                    startupStopped = true
                    state.withLock { $0.planner.dropQueued(reason: .startup) }
                    logger.info("start-up prewarm stopped at L1's budget")
                }
                state.withLock { $0.planner.completed(job, with: .skipped(reason: "L1 full"), at: now) }
                continue
            }
            fetcher.warm(job.request) { [self] outcome in
                let (again, idle) = state.withLock { state -> ([WarmJob], [CheckedContinuation<Void, Never>]) in
                    guard !state.stopped else { return ([], state.takeIdleWaiters()) }
                    let now = clock.now()
                    state.planner.completed(job, with: outcome, at: now)
                    let again = state.planner.dispatch(at: now)
                    return (again, state.takeIdleWaiters())
                }
                for waiter in idle { waiter.resume() }
                if case .failed(let reason, _) = outcome {
                    logger.debug("warming failed", metadata: ["url": "\(job.url)", "reason": "\(reason)"])
                }
                send(again, at: clock.now())
            }
        }
    }

    /// Returns once no warming request is in flight (or the prewarmer stopped). Jobs held back
    /// by the rate budget stay queued until the clock moves. For tests.
    public func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.isIdle || state.stopped { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Queues the `top` predicted keys now (`POST /prewarm`); returns how many were queued.
    @discardableResult
    public func warmTop(_ top: Int? = nil) -> Int {
        let now = clock.now()
        let jobs = state.withLock { state -> [WarmJob] in
            state.planner.planStartup(at: now, top: top)
            return state.planner.dispatch(at: now)
        }
        send(jobs, at: now)
        return state.withLock { $0.planner.queued + $0.planner.inFlight.count }
    }

    /// Queues `urls` first in line (`POST /prewarm` with `urls`); `keys` are their cache keys.
    public func warm(urls: [String], keys: [String]) {
        let now = clock.now()
        let jobs = state.withLock { state -> [WarmJob] in
            state.planner.planManual(urls: urls, keys: keys)
            return state.planner.dispatch(at: now)
        }
        send(jobs, at: now)
    }

    /// The numbers behind `GET /prewarm`.
    public func status() -> Status {
        let now = clock.now()
        return state.withLock { state in
            let planner = state.planner
            return Status(
                totals: planner.ledger.totals, queued: planner.queued, inFlight: planner.inFlight.count, dropped: planner.dropped,
                trackedKeys: planner.model.popularity.keys.count, condition: planner.pacer.condition(at: now),
                rate: planner.pacer.rate, backoffs: planner.pacer.backoffs, modelPath: settings.modelPath)
        }
    }

    /// The top `count` predictions for the next interval, for `GET /prewarm`.
    public func predictions(_ count: Int) -> [PopularityModel.Prediction] {
        let now = clock.now()
        return state.withLock { $0.planner.model.popularity.top(count, at: now, within: settings.planner.interval) }
    }

    /// Writes the model to `modelPath` (atomically); logs a failure.
    public func saveModel() {
        guard let path = settings.modelPath else { return }
        let model = state.withLock { $0.planner.model }
        do {
            try model.save(to: path, savedAt: clock.now())
        } catch {
            logger.warning("cannot save the warming model", metadata: ["error": "\(error)"])
        }
    }

    /// Stops planning and sending and saves the model. Warming requests in flight finish in
    /// the engine; their outcomes are ignored.
    public func shutdown() async {
        let (runner, idle) = state.withLock { state -> (Task<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            state.stopped = true
            defer { state.runner = nil }
            return (state.runner, state.takeIdleWaiters())
        }
        for waiter in idle { waiter.resume() }
        runner?.cancel()
        await runner?.value
        saveModel()
    }
}
