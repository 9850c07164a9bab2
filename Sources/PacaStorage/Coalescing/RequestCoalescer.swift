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
        var nextToken: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Most waiters one fill takes. Default 10,000.
    public let maxWaiters: Int

    /// Creates a coalescer.
    public init(maxWaiters: Int = 10_000) {
        self.maxWaiters = maxWaiters
    }

    /// Joins the fill for `key`, starting one when there is none.
    public func join(key: String, on eventLoop: any EventLoop) -> Role {
        state.withLock { state -> Role in
            guard var fill = state.fills[key] else {
                state.nextToken &+= 1
                let token = Token(value: state.nextToken)
                state.fills[key] = Fill(token: token)
                return .leader(token)
            }
            guard fill.waiters.count < maxWaiters else { return .alone }
            let promise = eventLoop.makePromise(of: Outcome.self)
            fill.waiters.append(promise)
            state.fills[key] = fill
            return .follower(promise.futureResult)
        }
    }

    /// Starts a fill for `key` only if none is in flight (a background refresh): the token, or
    /// `nil` when another fill already runs.
    public func lead(key: String) -> Token? {
        state.withLock { state -> Token? in
            guard state.fills[key] == nil else { return nil }
            state.nextToken &+= 1
            let token = Token(value: state.nextToken)
            state.fills[key] = Fill(token: token)
            return token
        }
    }

    /// Ends the fill `token` for `key` and hands `outcome` to everyone waiting on it. Does
    /// nothing when that fill was abandoned.
    public func complete(key: String, token: Token, with outcome: Outcome) {
        let waiters = state.withLock { state -> [EventLoopPromise<Outcome>] in
            guard let fill = state.fills[key], fill.token == token else { return [] }
            state.fills[key] = nil
            return fill.waiters
        }
        for waiter in waiters { waiter.succeed(outcome) }
    }

    /// Detaches the fill for `key` (a purge arrived): later requests start a new fill, and the
    /// current waiters get `outcome` now.
    public func abandon(key: String, with outcome: Outcome) {
        let waiters = state.withLock { $0.fills.removeValue(forKey: key)?.waiters ?? [] }
        for waiter in waiters { waiter.succeed(outcome) }
    }

    /// Fills in progress.
    public var inFlight: Int {
        state.withLock { $0.fills.count }
    }
}
