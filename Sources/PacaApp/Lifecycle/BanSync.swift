import Foundation
import Logging
import PacaCore
import PacaEngine
import PacaRedis
import Synchronization

/// Shares bans between the nodes on one Redis (DESIGN.md §3): each ban made here goes into the
/// `<namespace>:bans` sorted set (with a PUBLISH wake-up for subscribers); each node reads the set
/// from the time of the last ban it saw — every `interval`, at start, and after Redis comes back —
/// so a node that missed a wake-up, or was cut off, catches up from the set.
final class BanSync: Sendable {
    private struct Publishing {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        /// The time of the newest ban read; the next read starts there (inclusive: bans made in
        /// the same millisecond are told apart by id).
        var since: UnixMillis = 0
        var failing = false
    }

    let redis: RedisTier
    let engine: ProxyEngine
    let clock: any WallClock
    let logger: Logger
    /// Bans older than this are dropped from the shared set. Default 24 h.
    let retention: Duration
    private let state = Mutex(State())
    private let publishing = Mutex(Publishing())

    /// `publish` without waiting (from an event loop: an unsafe method's invalidation).
    func publishInBackground(_ ban: Ban) {
        publishing.withLock { $0.inFlight += 1 }
        Task {
            await publish(ban)
            let waiters = publishing.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.inFlight -= 1
                guard state.inFlight == 0 else { return [] }
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Returns once every ban published in the background has reached Redis (or failed to).
    func waitUntilPublished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = publishing.withLock { state -> Bool in
                if state.inFlight == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    init(redis: RedisTier, engine: ProxyEngine, clock: any WallClock, logger: Logger, retention: Duration = .seconds(86_400)) {
        self.redis = redis
        self.engine = engine
        self.clock = clock
        self.logger = logger
        self.retention = retention
    }

    /// Writes a ban made here to the shared set.
    func publish(_ ban: Ban) async {
        guard let data = try? JSONEncoder().encode(ban) else { return }
        do {
            try await redis.publishBan(
                String(decoding: data, as: UTF8.self), at: ban.at, retainSince: clock.now() - retention.milliseconds)
            noteHealthy()
        } catch {
            noteFailure(error, while: "sharing a ban")
        }
    }

    /// Reads the bans made since the last read and applies the new ones; returns how many.
    @discardableResult
    func sync() async -> Int {
        let since = state.withLock { $0.since }
        let found: [(at: UnixMillis, member: String)]
        do {
            found = try await redis.bans(since: since)
        } catch {
            noteFailure(error, while: "reading bans")
            return 0
        }
        noteHealthy()
        var applied = 0
        let decoder = JSONDecoder()
        for (at, member) in found {
            guard let ban = try? decoder.decode(Ban.self, from: Data(member.utf8)) else { continue }
            if engine.applyRemoteBan(ban) { applied += 1 }
            state.withLock { $0.since = max($0.since, at) }
        }
        return applied
    }

    /// Syncs every `interval` until the task is cancelled.
    func run(interval: Duration) async {
        await periodically(every: interval) { _ = await sync() }
    }

    private func noteFailure(_ error: any Error, while doing: String) {
        let first = state.withLock { state -> Bool in
            defer { state.failing = true }
            return !state.failing
        }
        if first {
            logger.warning(
                "L3 ban sharing failed; bans made meanwhile are read when Redis is back",
                metadata: ["while": "\(doing)", "error": "\(error)"])
        }
    }

    private func noteHealthy() {
        let recovered = state.withLock { state -> Bool in
            defer { state.failing = false }
            return state.failing
        }
        if recovered { logger.info("L3 ban sharing works again") }
    }
}
