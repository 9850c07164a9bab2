/// What to do with a stored response for a request (RFC 9111 §4, §4.2.4; RFC 5861).
///
/// Origin failures are decided separately, after the fact, by `canServeStaleOnError`.
public enum LookupDecision: Sendable, Equatable {
    /// Fresh: serve it. `remainingMillis` > 0 is the freshness left (Cache-Status `ttl`).
    case fresh(remainingMillis: Int64)
    /// Stale but inside the stale-while-revalidate window: serve it now and refresh in the
    /// background. `staleMillis` ≥ 0 is how long it has been stale (Cache-Status `ttl=-N`).
    case staleWhileRevalidate(staleMillis: Int64)
    /// Stale, but the client's `max-stale` accepts it (RFC 9111 §5.2.1.2) and the response does
    /// not forbid it: serve it without contacting the origin (a background refresh is optional).
    case staleAcceptable(staleMillis: Int64)
    /// Go to the origin: with the stored validators if there are any, else a plain fetch.
    case revalidate

    /// Whether the stored response may be sent now without waiting for the origin.
    public var servesStored: Bool {
        if case .revalidate = self { return false }
        return true
    }
}
