public import NIOCore
import Synchronization

/// Lets one request per key fetch while the others wait for its outcome: concurrent misses for
/// one key make one origin request. Waiters are bounded per key; past the bound they fetch on
/// their own. Each fill has a token, so a fill that was abandoned (a purge arrived while it was
/// in flight) can no longer complete the fill that replaced it.
public final class RequestCoalescer<Outcome: Sendable>: Sendable {
    /// Identifies one fill.
    public struct Token: Sendable, Equatable {
        let value: UInt64
    }

    /// What a caller of `join` should do.
    public enum Role: Sendable {
        /// Fetch, then call `complete(key:token:with:)` exactly once.
        case leader(Token)
        /// Wait for the leader's outcome.
        case follower(EventLoopFuture<Outcome>)
        /// Too many are waiting already: fetch alone, without completing anything.
        case alone
    }

    private struct Fill {
        var token: Token
        var waiters: [EventLoopPromise<Outcome>] = []
    }

    private struct State {
        var fills: [String: Fill] = [:]
    }

    /// One lock and its fills; a key always maps to the same shard.
    private final class Shard: Sendable {
        let state = Mutex(State())
    }

    /// Fills are spread over shards by the key's hash, so requests for different keys rarely
    /// wait on one another's lock. Tokens come from one counter, so each fill's token is unique.
    private let shards: [Shard]
    private let nextToken = Atomic<UInt64>(0)
    /// Most waiters one fill takes. Default 10,000.
    public let maxWaiters: Int

    /// Locks per coalescer.
    private static var shardCount: Int { 64 }

    /// Creates a coalescer.
    public init(maxWaiters: Int = 10_000) {
        self.maxWaiters = maxWaiters
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(for key: String) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    private func newToken() -> Token {
        Token(value: nextToken.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    /// Joins the fill for `key`, starting one when there is none. O(1) amortized: a follower's
    /// promise is appended to the fill's waiters in place, never by copying them.
    public func join(key: String, on eventLoop: any EventLoop) -> Role {
        shard(for: key).state.withLock { state -> Role in
            guard let index = state.fills.index(forKey: key) else {
                let token = newToken()
                state.fills[key] = Fill(token: token)
                return .leader(token)
            }
            guard state.fills.values[index].waiters.count < maxWaiters else { return .alone }
            let promise = eventLoop.makePromise(of: Outcome.self)
            state.fills.values[index].waiters.append(promise)
            return .follower(promise.futureResult)
        }
    }

    /// Starts a fill for `key` only if none is in flight (a background refresh): the token, or
    /// `nil` when another fill already runs.
    public func lead(key: String) -> Token? {
        shard(for: key).state.withLock { state -> Token? in
            guard state.fills[key] == nil else { return nil }
            let token = newToken()
            state.fills[key] = Fill(token: token)
            return token
        }
    }

    /// `lead(key:)` for a leader that also waits for its fill's outcome (the prewarmer, whose
    /// fill may go on after its fetch answered): the token and the outcome, or `nil` when
    /// another fill already runs.
    public func leadObserving(key: String, on eventLoop: any EventLoop) -> (token: Token, outcome: EventLoopFuture<Outcome>)? {
        shard(for: key).state.withLock { state -> (token: Token, outcome: EventLoopFuture<Outcome>)? in
            guard state.fills[key] == nil else { return nil }
            let token = newToken()
            let promise = eventLoop.makePromise(of: Outcome.self)
            state.fills[key] = Fill(token: token, waiters: [promise])
            return (token, promise.futureResult)
        }
    }

    /// Ends the fill `token` for `key` and hands `outcome` to everyone waiting on it. Does
    /// nothing when that fill was abandoned.
    public func complete(key: String, token: Token, with outcome: Outcome) {
        let waiters = shard(for: key).state.withLock { state -> [EventLoopPromise<Outcome>] in
            guard let index = state.fills.index(forKey: key), state.fills.values[index].token == token else { return [] }
            return state.fills.remove(at: index).value.waiters
        }
        for waiter in waiters { waiter.succeed(outcome) }
    }

    /// Detaches the fill for `key` (a purge arrived): later requests start a new fill, and the
    /// current waiters get `outcome` now.
    public func abandon(key: String, with outcome: Outcome) {
        let waiters = shard(for: key).state.withLock { $0.fills.removeValue(forKey: key)?.waiters ?? [] }
        for waiter in waiters { waiter.succeed(outcome) }
    }

    /// Detaches every fill whose key `predicate` picks (a purge by pattern); returns how many.
    @discardableResult
    public func abandon(where predicate: (String) -> Bool, with outcome: Outcome) -> Int {
        var count = 0
        for shard in shards {
            let waiters = shard.state.withLock { state -> [EventLoopPromise<Outcome>] in
                let keys = state.fills.keys.filter(predicate)
                count += keys.count
                return keys.flatMap { state.fills.removeValue(forKey: $0)?.waiters ?? [] }
            }
            for waiter in waiters { waiter.succeed(outcome) }
        }
        return count
    }

    /// Fills in progress (summed over the shards, so only a snapshot under concurrent use).
    public var inFlight: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.fills.count } }
    }
}
