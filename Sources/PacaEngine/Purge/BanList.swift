public import PacaCore
public import PacaHTTPCaching
import PacaStorage
import Synchronization

/// The bans in force (DESIGN.md §3, "Purge is a ban with a time"): purges of one URL (from the
/// admin API or an unsafe method) in a map by primary key, purges by pattern, regex or tag in a
/// list ordered by time. Both are bounded and forget their oldest entries first; a ban also goes
/// when no entry it could match is still stored. Checked where an entry enters L1 from below and
/// where a fill would be stored — never on an L1 hit (L1 is purged at once).
public final class BanList: Sendable {
    /// What a ban does to an entry.
    public enum Verdict: Sendable, Equatable {
        /// Not banned.
        case none
        /// Serve only as stale (revalidate first).
        case stale
        /// Drop it.
        case drop
    }

    private struct State {
        var byKey: BoundedLRUMap<String, (at: UnixMillis, soft: Bool)>
        var list: [BanMatcher] = []
        var ids: Set<String> = []
    }

    private let state: Mutex<State>
    /// Most list bans kept. Default 10,000.
    public let maxBans: Int

    /// Creates an empty list.
    public init(maxKeyBans: Int = 100_000, maxBans: Int = 10_000) {
        self.state = Mutex(State(byKey: BoundedLRUMap(capacity: maxKeyBans)))
        self.maxBans = max(1, maxBans)
    }

    /// Adds `ban`; `false` when it was known already (a ban from another node seen twice).
    @discardableResult
    public func add(_ ban: Ban) throws(SafeRegex.CompileError) -> Bool {
        if case .url(let primaryKey) = ban.target {
            recordKey(primaryKey, at: ban.at, soft: ban.soft)
            return state.withLock { $0.ids.insert(ban.id).inserted }
        }
        let matcher = try BanMatcher(ban)
        return state.withLock { state in
            guard state.ids.insert(ban.id).inserted else { return false }
            let position = state.list.lastIndex { $0.ban.at <= ban.at }.map { $0 + 1 } ?? 0
            state.list.insert(matcher, at: position)
            while state.list.count > maxBans {
                let oldest = state.list.removeFirst()
                state.ids.remove(oldest.ban.id)
            }
            return true
        }
    }

    /// Records a purge of one primary key (and its variants) at `at`.
    public func recordKey(_ primaryKey: String, at: UnixMillis, soft: Bool = false) {
        state.withLock { state in
            if let known = state.byKey.get(primaryKey), known.at >= at, !known.soft || soft { return }
            _ = state.byKey.set((at, soft), for: primaryKey)
        }
    }

    /// What the bans made after `fetchedAt` do to the entry under `key` (primary key
    /// `primaryKey`) with stored fields `fields`.
    public func verdict(key: String, primaryKey: String, fields: [HTTPField], fetchedAt: UnixMillis) -> Verdict {
        state.withLock { state in
            var verdict = Verdict.none
            if let byKey = state.byKey.peek(primaryKey), byKey.at >= fetchedAt {
                if !byKey.soft { return .drop }
                verdict = .stale
            }
            // Bans are ordered by time: only the tail made after the fetch can apply.
            var index = state.list.endIndex
            while index > state.list.startIndex, state.list[index - 1].ban.at >= fetchedAt {
                index -= 1
                let matcher = state.list[index]
                guard matcher.matches(key: key, fields: fields) else { continue }
                if !matcher.ban.soft { return .drop }
                verdict = .stale
            }
            return verdict
        }
    }

    /// Whether a fill sent at `requestTime` for `primaryKey` may be stored.
    public func blocksFill(key: String, primaryKey: String, fields: [HTTPField], requestTime: UnixMillis) -> Bool {
        verdict(key: key, primaryKey: primaryKey, fields: fields, fetchedAt: requestTime) != .none
    }

    /// Drops bans past their expiry.
    public func expire(now: UnixMillis) {
        state.withLock { state in
            state.list.removeAll { matcher in
                guard matcher.ban.expires <= now else { return false }
                state.ids.remove(matcher.ban.id)
                return true
            }
        }
    }

    /// The list bans in force, oldest first.
    public var bans: [Ban] { state.withLock { $0.list.map(\.ban) } }

    /// How many bans are in force (list bans and URL bans).
    public var count: (list: Int, urls: Int) { state.withLock { ($0.list.count, $0.byKey.count) } }
}
