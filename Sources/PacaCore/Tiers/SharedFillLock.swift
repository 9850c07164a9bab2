/// A lock shared by every node of one L3, one per cache key, so that a miss on N nodes at once
/// makes one origin request (issue 13, "several nodes as one"). The node that takes it fetches
/// and stores; the others wait for the entry to appear in L3, then serve it.
///
/// Every operation is best-effort and bounded: when the store behind the lock is slow, down or
/// skipped by its circuit breaker, `acquire` says `unavailable` and the caller fetches on its
/// own (coalescing then stays per node), so a sick lock store never stalls a request.
public protocol SharedFillLock: Sendable {
    /// How long a fill may hold the lock (its expiry, so a holder that dies frees it) and the
    /// longest a node waits on another's fill.
    var lockTimeout: Duration { get }

    /// Tries to take the lock for `key`.
    func acquire(_ key: String) async -> SharedFillAcquisition

    /// Waits while another node holds the lock for `key`, at most `lockTimeout`.
    func waitForRelease(_ key: String) async -> SharedFillWaitResult

    /// Ends the fill `lease` leads: frees the lock when its holder is still `lease` (never a
    /// lock another fill took after this one expired), leaving a short pass marker when the
    /// answer could not be shared, so that the nodes waiting stop waiting at once.
    func release(_ lease: SharedFillLease, outcome: SharedFillRelease) async
}

/// A lock taken: the key and the holder's random token.
public struct SharedFillLease: Sendable, Equatable {
    /// The cache key.
    public let key: String
    /// Random, unique per acquisition: a release compares it before deleting.
    public let token: String

    /// Creates a lease.
    public init(key: String, token: String) {
        self.key = key
        self.token = token
    }
}

/// What `SharedFillLock.acquire(_:)` found.
public enum SharedFillAcquisition: Sendable, Equatable {
    /// This node fills: fetch, store, then `release`.
    case acquired(SharedFillLease)
    /// Another node fills: wait for it (`waitForRelease`).
    case heldElsewhere
    /// Another node's fill just found the answer not shareable: fetch without waiting.
    case pass
    /// The lock store is slow, down or skipped: fetch, coalescing on this node only.
    case unavailable
}

/// How a wait on another node's fill ended.
public enum SharedFillWaitResult: Sendable, Equatable {
    /// The lock is free: the entry, if it was stored, is in L3 now.
    case released
    /// The other fill's answer could not be shared: fetch.
    case pass
    /// The lock was still held after `lockTimeout`: fetch.
    case timedOut
    /// The lock store stopped answering: fetch.
    case unavailable
}

/// How the fill that held the lock ended.
public enum SharedFillRelease: Sendable, Equatable {
    /// Stored where the other nodes look (and written before the release).
    case stored
    /// Not storable, or stored where other nodes cannot see it: they should fetch themselves.
    case notShared
    /// The origin failed: the lock is freed, and the next request tries again.
    case failed
}
