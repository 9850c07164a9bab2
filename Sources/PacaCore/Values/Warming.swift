/// A request the prewarmer makes through the proxy's pipeline: the same route, key, rules and
/// coalescing as a client's GET, at a lower priority, never written to the access log.
public struct WarmRequest: Sendable, Equatable {
    /// How far the warming may go.
    public enum Mode: Sendable, Equatable {
        /// Into L1 from L2/L3 only; never the origin (start-up's first pass).
        case promote
        /// Into L1 from L2/L3, else from the origin; nothing when L1 already holds it fresh.
        case fill
        /// Ask the origin now, conditionally when the stored entry has validators
        /// (refresh-ahead), even if the entry is still fresh.
        case refresh
    }

    /// The request target as a client sends it (`/api/users/1?page=2`).
    public var url: String
    /// The `Host` to send, for routes that key by it; `nil` uses the route's origin.
    public var host: String?
    /// How far the warming may go.
    public var mode: Mode

    /// Creates a request.
    public init(url: String, host: String? = nil, mode: Mode) {
        self.url = url
        self.host = host
        self.mode = mode
    }
}

/// What a `WarmRequest` did.
public enum WarmOutcome: Sendable, Equatable {
    /// What is known of the entry a warming left in the cache.
    public struct Entry: Sendable, Equatable {
        /// The entry's primary key (the URL's key, without a variant).
        public var key: String
        /// When it stops being fresh.
        public var expiry: UnixMillis
        /// Its freshness lifetime in milliseconds.
        public var lifetime: Int64
        /// Its body size.
        public var bytes: Int

        /// Creates the description.
        public init(key: String, expiry: UnixMillis, lifetime: Int64, bytes: Int) {
            self.key = key
            self.expiry = expiry
            self.lifetime = lifetime
            self.bytes = bytes
        }
    }

    /// L1 already held it fresh: nothing was done.
    case fresh(Entry)
    /// Found in L2 or L3 and moved into L1; the origin was not asked.
    case promoted(Entry, tier: String)
    /// Fetched from the origin and stored (`notModified`: a refresh whose body did not change,
    /// as after a 304).
    case fetched(Entry, originMillis: Double, notModified: Bool)
    /// `.promote` found nothing below L1.
    case notCached
    /// Another fill for the key is in flight; this one joined nothing and did nothing.
    case alreadyFilling
    /// The origin answered, but the answer was not stored (status, `no-store`, too large, refused).
    case notStored(status: Int, originMillis: Double)
    /// The origin failed or answered 5xx.
    case failed(reason: String, originMillis: Double?)
    /// The URL is not warmable (no route, a route that does not cache, a bad target).
    case skipped(reason: String)

    /// Whether this outcome asked the origin.
    public var askedOrigin: Bool {
        switch self {
        case .fetched, .notStored, .failed: true
        default: false
        }
    }
}
