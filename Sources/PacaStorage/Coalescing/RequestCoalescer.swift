public import NIOCore
import Synchronization

/// Lets one request per key fetch while the others wait for its outcome: concurrent misses for
/// one key make one origin request. Waiters are bounded per key; past the bound they fetch on
/// their own.
public final class RequestCoalescer<Outcome: Sendable>: Sendable {
    /// What a caller of `join` should do.
    public enum Role: Sendable {
        /// Fetch, then call `complete(key:with:)` exactly once.
        case leader
        /// Wait for the leader's outcome.
        case follower(EventLoopFuture<Outcome>)
        /// Too many are waiting already: fetch alone, without completing anything.
        case alone
    }

    private struct Fill {
        var waiters: [EventLoopPromise<Outcome>] = []
    }

    private let fills = Mutex<[String: Fill]>([:])
    /// Most waiters one fill takes. Default 10,000.
    public let maxWaiters: Int

    /// Creates a coalescer.
    public init(maxWaiters: Int = 10_000) {
        self.maxWaiters = maxWaiters
    }

    /// Joins the fill for `key`, starting one when there is none.
    public func join(key: String, on eventLoop: any EventLoop) -> Role {
        fills.withLock { fills -> Role in
            guard var fill = fills[key] else {
                fills[key] = Fill()
                return .leader
            }
            guard fill.waiters.count < maxWaiters else { return .alone }
            let promise = eventLoop.makePromise(of: Outcome.self)
            fill.waiters.append(promise)
            fills[key] = fill
            return .follower(promise.futureResult)
        }
    }

    /// Ends the fill for `key` and hands `outcome` to everyone waiting on it.
    public func complete(key: String, with outcome: Outcome) {
        let waiters = fills.withLock { $0.removeValue(forKey: key)?.waiters ?? [] }
        for waiter in waiters { waiter.succeed(outcome) }
    }

    /// Fills in progress.
    public var inFlight: Int {
        fills.withLock { $0.count }
    }
}
