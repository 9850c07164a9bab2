/// Where a route takes the freshness lifetime from (routes.json `ttl_source`).
///
/// In every mode `max_ttl` caps the result, and `no-store`, `private`, `Vary: *`, Authorization
/// without permission and `Set-Cookie` without an `ignore` exception are never stored. The mode
/// changes only the lifetime; `no-cache` and `must-revalidate` keep their meaning in all modes.
public enum TTLSource: String, Sendable, CaseIterable {
    /// Default. The origin's freshness (`s-maxage` > `max-age` > `Expires`), else the route
    /// `ttl`, else the heuristic (RFC 9111 §4.2.2).
    case cacheControlFirst = "cache-control-first"
    /// The route `ttl` overrides `max-age` and `Expires`, but `s-maxage` still wins. Without a
    /// route `ttl` this behaves like `cacheControlFirst`.
    case routeFirst = "route-first"
    /// Always the route `ttl`; origin freshness is ignored. Without a route `ttl` the lifetime is 0
    /// (the entry is only kept when it has validators or stale windows).
    case routeOnly = "route-only"
}
