import NIOCore
import PacaCore
import PacaStorage

/// Coalescing across nodes (issue 13): this node's leader of a miss takes the nodes' lock on the
/// shared L3 before fetching. The node that holds it fetches and stores as usual, then frees it
/// once the entry is written to L3; a node that finds it held waits for that, then serves the
/// entry from L3 and hands it to its own waiting requests. When the lock store cannot answer,
/// the leader fetches at once: coalescing is then per node, and no request waits on a sick Redis.
extension ProxyEngine {
    /// What the nodes' lock decided for this node's leader.
    enum SharedFillStep: Sendable {
        /// Fetch from the origin, holding the lock when there is a lease.
        case fetch(SharedFillLease?)
        /// Another node's fill landed in a lower tier: serve it.
        case found(LowerLookup)
    }

    /// Leads the exchange's miss across the nodes: take the lock and fetch, or wait on the node
    /// that holds it and serve what it stored. `kind` carries this node's fill token.
    func sharedFill(_ exchange: Exchange, kind: FetchKind, lock: any SharedFillLock, on eventLoop: any EventLoop) -> EventLoopFuture<
        ProxyResponse
    > {
        let promise = eventLoop.makePromise(of: SharedFillStep.self)
        let key = exchange.key
        let primaryKey = exchange.primaryKey
        let requestFields = exchange.requestFields
        promise.completeWithTask { [self] in
            switch await lock.acquire(key) {
            case .acquired(let lease):
                return .fetch(lease)
            case .pass:
                statistics.sharedFillPassed.increment()
                return .fetch(nil)
            case .unavailable:
                statistics.sharedFillUnavailable.increment()
                return .fetch(nil)
            case .heldElsewhere:
                statistics.sharedFillWaits.increment()
                switch await lock.waitForRelease(key) {
                case .released:
                    let found = await lowerLookup(primaryKey: primaryKey, requestFields: requestFields, now: clock.now(), on: eventLoop)
                    guard let found, found.entry != nil else { return .fetch(nil) }
                    return .found(found)
                case .pass:
                    statistics.sharedFillPassed.increment()
                    return .fetch(nil)
                case .timedOut:
                    statistics.sharedFillTimeouts.increment()
                    return .fetch(nil)
                case .unavailable:
                    statistics.sharedFillUnavailable.increment()
                    return .fetch(nil)
                }
            }
        }
        return promise.futureResult.hop(to: eventLoop).flatMap { step in
            switch step {
            case .fetch(let lease):
                var leading = kind
                leading.lease = lease
                return self.fetch(exchange, kind: leading, on: eventLoop)
            case .found(let found):
                return self.serveSharedFill(exchange, found: found, kind: kind, on: eventLoop)
            }
        }
    }

    /// Serves the entry another node's fill stored (a hit from the tier it was found in) and
    /// hands it to this node's waiting requests; an entry that is not fresh enough to serve
    /// (another variant's, or one that must be revalidated) is left, and this node fetches.
    private func serveSharedFill(_ exchange: Exchange, found: LowerLookup, kind: FetchKind, on eventLoop: any EventLoop)
        -> EventLoopFuture<ProxyResponse>
    {
        var served = exchange
        if let variantKey = found.variantKey { served.key = variantKey }
        let now = clock.now()
        if let entry = found.entry, case .fresh(let remaining) = lookupDecision(entry: entry, exchange: served, now: now) {
            statistics.sharedFillServed.increment()
            // This node's fill (under the key it was led by) ends with the other node's entry.
            complete(exchange, kind, with: found.file == nil ? .stored(entry) : .storedBelow)
            return eventLoop.makeSucceededFuture(
                serveStored(served, entry: entry, ttlMillis: remaining, now: now, outcome: .hit, tier: found.tier, file: found.file))
        }
        found.file?.cancel()
        return fetch(exchange, kind: kind, on: eventLoop)
    }

    /// Frees the nodes' lock of a fill that ended with `outcome`: after the entry's L3 write for a
    /// stored fill (so that a node woken by the release finds it), at once otherwise, with the
    /// pass marker when other nodes cannot use what this fill got.
    func releaseSharedFill(_ lease: SharedFillLease, outcome: FillOutcome) {
        guard let sharedFillLock else { return }
        switch outcome {
        case .stored:
            cache.afterQueuedWrites { await sharedFillLock.release(lease, outcome: .stored) }
        case .storedBelow, .uncacheable:
            Task { await sharedFillLock.release(lease, outcome: .notShared) }
        case .failed:
            Task { await sharedFillLock.release(lease, outcome: .failed) }
        }
    }
}
