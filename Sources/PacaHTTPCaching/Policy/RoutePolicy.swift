/// The caching rules of one route, as far as RFC 9111 decisions need them.
///
/// All durations are seconds. Negative values count as 0 and values above 2^31 as 2^31.
public struct RoutePolicy: Sendable, Equatable {
    /// Route `ttl` in seconds; `nil` (default) when the route sets none.
    public var ttl: Int64?
    /// How `ttl` combines with the origin's freshness. Default `.cacheControlFirst`.
    public var ttlSource: TTLSource
    /// Upper bound for the freshness lifetime in every mode (also caps `s-maxage`); `nil`
    /// (default) means no cap.
    public var maxTTL: Int64?
    /// Route `stale_while_revalidate` window; used only when the origin sent none of `no-cache`,
    /// `must-revalidate`, `proxy-revalidate`, `s-maxage`, and no `stale-while-revalidate` of its
    /// own. Default `nil`.
    public var staleWhileRevalidate: Int64?
    /// Route `stale_if_error` window; same conditions as `staleWhileRevalidate`. Default `nil`.
    public var staleIfError: Int64?
    /// Lowercased names of storability exceptions the route allows (routes.json `ignore`):
    /// `"set-cookie"` stores responses carrying `Set-Cookie` (the field itself is still never
    /// stored); `"authorization"` stores responses to requests with `Authorization` even without
    /// `public`/`s-maxage`/`must-revalidate` (use only when Authorization is part of the key).
    /// Other names have no effect. Default empty.
    public var ignore: Set<String>
    /// Largest body, in bytes, that may be stored; larger responses are `tooLarge`.
    /// Default `Int.max` (no limit: the storage tiers enforce their own).
    public var maxBodyBytes: Int
    /// Fraction of `Date - Last-Modified` used as heuristic freshness (RFC 9111 §4.2.2).
    /// Default 0.1; clamped to 0...1, NaN counts as 0.
    public var heuristicFraction: Double = 0.1
    /// Cap for heuristic freshness in seconds. Default 86 400 (one day).
    public var heuristicCap: Int64 = 86_400
    /// Extra storage lifetime in seconds for entries that have a validator (`ETag` or
    /// `Last-Modified`), so a stale entry can still be revalidated. Default 3600.
    public var keepWithValidators: Int64 = 3600
    /// Status codes to which the route `ttl` may apply when the origin gave no explicit
    /// freshness. Default: the heuristically cacheable codes except 206
    /// (`StatusCodes.routeTTLDefault`), so a route `ttl` never caches a 500 or a 302.
    public var routeTTLStatuses: Set<Int> = StatusCodes.routeTTLDefault
    /// Targeted cache-control fields (RFC 9213) read instead of `Cache-Control` and `Expires`,
    /// lowercased, most specific first: the first one present and valid wins. Empty disables
    /// targeted fields. Default `TargetedCacheControl.defaultTargets`
    /// (`paca-cache-control`, `cdn-cache-control`).
    public var cacheControlTargets: [String] = TargetedCacheControl.defaultTargets
    /// Route `stale_if_unreachable` bound in seconds: how stale an entry may be and still be
    /// served when the origin cannot be reached at all (connect failure, DNS, timeout; never a
    /// 5xx answer). Never applies under `no-cache`, `must-revalidate`, `proxy-revalidate` or
    /// `s-maxage` (RFC 9111 §4.2.4). Default `nil` (off).
    public var staleIfUnreachable: Int64?

    /// Creates a policy; every parameter defaults to the value documented on its property.
    public init(
        ttl: Int64? = nil,
        ttlSource: TTLSource = .cacheControlFirst,
        maxTTL: Int64? = nil,
        staleWhileRevalidate: Int64? = nil,
        staleIfError: Int64? = nil,
        ignore: Set<String> = [],
        maxBodyBytes: Int = .max,
        heuristicFraction: Double = 0.1,
        heuristicCap: Int64 = 86_400,
        keepWithValidators: Int64 = 3600,
        routeTTLStatuses: Set<Int> = StatusCodes.routeTTLDefault,
        cacheControlTargets: [String] = TargetedCacheControl.defaultTargets,
        staleIfUnreachable: Int64? = nil
    ) {
        self.ttl = ttl
        self.ttlSource = ttlSource
        self.maxTTL = maxTTL
        self.staleWhileRevalidate = staleWhileRevalidate
        self.staleIfError = staleIfError
        self.ignore = Set(ignore.map(ASCII.lowercased))
        self.maxBodyBytes = maxBodyBytes
        self.heuristicFraction = heuristicFraction
        self.heuristicCap = heuristicCap
        self.keepWithValidators = keepWithValidators
        self.routeTTLStatuses = routeTTLStatuses
        self.cacheControlTargets = cacheControlTargets.map(ASCII.lowercased)
        self.staleIfUnreachable = staleIfUnreachable
    }
}
