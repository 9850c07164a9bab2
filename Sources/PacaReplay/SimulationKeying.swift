public import PacaAccessLog
public import PacaEngine

/// Turns a logged request into what the proxy would do with it: the cache key (through the
/// same `RequestTarget.parse`, `RouteTable.route(for:)` and `CacheKeyBuilder` as the proxy), or
/// why it would not be cached, and the entry's lifetime.
public struct SimulationKeying: Sendable {
    /// What the proxy would do with one request.
    public enum Decision: Sendable, Equatable {
        /// Looked up (and stored on a miss) under `key` for `ttlSeconds` (`nil`: no expiry).
        case cacheable(key: String, ttlSeconds: Int?)
        /// Answered without the cache: not GET/HEAD, no route, a `cache: false` route, a bad
        /// target, or logged by paca as `bypass`/`pass`.
        case uncacheable
    }

    /// The routes; `nil` keys every request by host and normalised target.
    public let routes: RouteTable?
    /// The route used without `routes`: a catch-all whose key rules are the defaults.
    private let catchAll: Route

    /// Creates a keying over `routes` (`nil`: one catch-all route with default rules).
    public init(routes: RouteTable?) {
        self.routes = routes
        catchAll = Route(name: "all", match: "/*", origin: Origin(url: "http://simulate")!)
    }

    /// The decision for `request`. A trace line's `key` is used as it is.
    public func decide(_ request: LogRequest) -> Decision {
        if let key = request.key { return .cacheable(key: key, ttlSeconds: request.ttl) }
        guard request.method == "GET" || request.method == "HEAD" else { return .uncacheable }
        if let cache = request.cache, cache == "bypass" || cache == "pass" { return .uncacheable }
        guard let target = try? RequestTarget.parse(request.url) else { return .uncacheable }
        let route: Route
        if let routes {
            guard let matched = routes.route(for: target.path), matched.cache else { return .uncacheable }
            route = matched
        } else {
            route = catchAll
        }
        let host: String
        if routes == nil {
            host = request.host?.lowercased() ?? "-"
        } else {
            host = route.preserveHost ? (request.host?.lowercased() ?? route.origin.authority) : route.origin.authority
        }
        let key = CacheKeyBuilder.key(
            route: route, host: host, path: target.path, keyedQuery: CacheKeyBuilder.keyedQuery(target.query, rule: route.keyQuery))
        let routeTTL = routes == nil ? nil : route.policy.ttl.map { Int($0) }
        // A logged ttl of 0 is a response without freshness (`max-age=0`): it never hits. A
        // negative one (a stale hit) says nothing about the full lifetime: the route's applies.
        return .cacheable(key: key, ttlSeconds: request.ttl.flatMap { $0 >= 0 ? $0 : nil } ?? routeTTL)
    }
}
