import PacaCore
import PacaStorage

/// What warming did and whether it paid: entries warmed, how many were requested before they
/// expired (precision), origin requests spent, and the misses it saved.
///
/// A warmed entry stays pending until a client requests it (used) or it expires or is replaced
/// unrequested (wasted). A request after the time the entry's key would otherwise have missed
/// (`missFrom`: the previous copy's expiry, or the warming itself) is a saved miss; saved misses
/// over the cacheable requests seen estimate the hit-ratio uplift. At most `capacity` entries are
/// pending; past it the least recently warmed is forgotten unresolved.
public struct WarmingLedger: Sendable {
    /// Totals since start.
    public struct Totals: Sendable, Equatable, Codable {
        /// Entries warmed into L1 (from the origin or a lower tier).
        public var warmed = 0
        /// ...of which requested before they expired.
        public var used = 0
        /// ...of which expired or were replaced unrequested.
        public var wasted = 0
        /// Requests that hit a warmed entry where they would otherwise have missed.
        public var savedMisses = 0
        /// Origin requests made by warming.
        public var originRequests = 0
        /// ...of which failed or answered 5xx.
        public var originErrors = 0
        /// Entries moved up from L2/L3 (no origin request).
        public var promoted = 0
        /// Jobs that found the entry already fresh.
        public var alreadyFresh = 0
        /// Cacheable client requests seen.
        public var clientRequests = 0
        /// Client requests that went to the origin (misses and revalidations).
        public var clientOriginRequests = 0
        /// Warmed entries by reason.
        public var warmedByReason: [String: Int] = [:]

        /// Creates zero totals.
        public init() {}

        /// `used / (used + wasted)`, or `nil` before any warmed entry is resolved.
        public var precision: Double? {
            used + wasted > 0 ? Double(used) / Double(used + wasted) : nil
        }

        /// Saved misses over client requests: the hit-ratio points warming added (estimate).
        public var upliftEstimate: Double? {
            clientRequests > 0 ? Double(savedMisses) / Double(clientRequests) : nil
        }

        /// Warming's share of all origin requests.
        public var originShare: Double? {
            let total = originRequests + clientOriginRequests
            return total > 0 ? Double(originRequests) / Double(total) : nil
        }
    }

    struct Pending: Sendable {
        var expiry: UnixMillis
        var missFrom: UnixMillis
        var used: Bool
    }

    /// The totals.
    public private(set) var totals = Totals()
    private var pending: BoundedLRUMap<String, Pending>

    /// Creates an empty ledger tracking at most `capacity` pending entries.
    public init(capacity: Int = 100_000) {
        pending = BoundedLRUMap(capacity: max(1, capacity))
    }

    /// Entries warmed and not yet resolved.
    public var pendingCount: Int { pending.count }

    /// An entry for `key` was warmed at `time`, fresh until `expiry`; without warming, a request
    /// from `missFrom` on would have missed.
    mutating func warmed(_ key: String, at time: UnixMillis, expiry: UnixMillis, missFrom: UnixMillis, reason: WarmJob.Reason) {
        totals.warmed += 1
        totals.warmedByReason[reason.rawValue, default: 0] += 1
        if let previous = pending.removeValue(for: key), !previous.used { totals.wasted += 1 }
        if let evicted = pending.set(Pending(expiry: expiry, missFrom: min(missFrom, expiry), used: false), for: key) {
            _ = evicted  // forgotten unresolved
        }
    }

    /// A client requested `key` at `time`; `hit` when the cache answered it.
    mutating func requested(_ key: String, at time: UnixMillis, hit: Bool) {
        totals.clientRequests += 1
        if !hit { totals.clientOriginRequests += 1 }
        guard var entry = pending.peek(key) else { return }
        guard hit, time <= entry.expiry else {
            // Evicted, purged or expired before anyone asked.
            _ = pending.removeValue(for: key)
            if !entry.used { totals.wasted += 1 }
            return
        }
        if !entry.used {
            entry.used = true
            totals.used += 1
        }
        if time >= entry.missFrom {
            totals.savedMisses += 1
            _ = pending.removeValue(for: key)
        } else {
            _ = pending.set(entry, for: key)
        }
    }

    /// Resolves the pending entries that expired by `now`.
    mutating func expire(at now: UnixMillis) {
        for key in pending.keysByRecency {
            guard let entry = pending.peek(key), entry.expiry < now else { continue }
            _ = pending.removeValue(for: key)
            if !entry.used { totals.wasted += 1 }
        }
    }

    mutating func countOriginRequest(failed: Bool) {
        totals.originRequests += 1
        if failed { totals.originErrors += 1 }
    }

    mutating func countPromotion() { totals.promoted += 1 }
    mutating func countAlreadyFresh() { totals.alreadyFresh += 1 }
}
