/// Where a freshness lifetime came from.
public enum FreshnessSource: String, Sendable, CaseIterable {
    /// `s-maxage` (RFC 9111 §5.2.2.10).
    case sMaxAge = "s-maxage"
    /// `max-age` (RFC 9111 §5.2.2.1).
    case maxAge = "max-age"
    /// `Expires - Date` (RFC 9111 §5.3).
    case expires
    /// The route's `ttl`.
    case route
    /// The Last-Modified heuristic (RFC 9111 §4.2.2).
    case heuristic
    /// Nothing: lifetime 0.
    case none
}
