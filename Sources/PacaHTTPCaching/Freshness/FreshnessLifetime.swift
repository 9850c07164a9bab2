/// The freshness lifetime of a response (RFC 9111 §4.2.1) after applying a route's TTL rules.
public struct FreshnessLifetime: Sendable, Equatable {
    /// Lifetime in ms, after `maxTTL`.
    public var millis: Int64
    /// Which rule produced it.
    public var source: FreshnessSource

    /// Creates a lifetime value.
    public init(millis: Int64, source: FreshnessSource) {
        self.millis = millis
        self.source = source
    }

    /// Computes the lifetime for a response.
    ///
    /// Origin freshness is `s-maxage` > `max-age` > `Expires - Date` (different `Expires` lines
    /// or an invalid one mean already expired, §5.3); the heuristic (§4.2.2) needs a valid
    /// `Last-Modified` and a heuristically cacheable status or `public`. The route `ttl` applies
    /// only to `policy.routeTTLStatuses`. Then `policy.ttlSource` picks, and `policy.maxTTL` caps.
    /// - Parameter dateMillis: the response `Date` (or its receipt time when absent).
    public static func compute(
        status: Int, responseHeaders: [HTTPField], cacheControl cc: CacheControl,
        dateMillis: Int64, policy: RoutePolicy
    ) -> FreshnessLifetime {
        var explicit: FreshnessLifetime?
        if let s = cc.sMaxAge {
            explicit = FreshnessLifetime(millis: DeltaSeconds.millis(s), source: .sMaxAge)
        } else if let m = cc.maxAge {
            explicit = FreshnessLifetime(millis: DeltaSeconds.millis(m), source: .maxAge)
        } else {
            let lines = responseHeaders.values("expires").map { ASCII.trimmed($0) }
            if let firstLine = lines.first {
                var ms: Int64 = 0
                if lines.allSatisfy({ $0 == firstLine }), let e = HTTPDate.parse(firstLine) {
                    ms = min(max(0, Sat.sub(Sat.mul(e, 1000), dateMillis)), DeltaSeconds.maximum * 1000)
                }
                explicit = FreshnessLifetime(millis: ms, source: .expires)
            }
        }

        var heuristic: FreshnessLifetime?
        if StatusCodes.heuristicallyCacheable.contains(status) || cc.isPublic,
            let lmText = responseHeaders.first("last-modified"), let lm = HTTPDate.parse(lmText)
        {
            let interval = max(0, Sat.sub(dateMillis, Sat.mul(lm, 1000)))
            var fraction = policy.heuristicFraction
            if !(fraction >= 0) { fraction = 0 }  // NaN and negatives
            if fraction > 1 { fraction = 1 }
            let capMillis = DeltaSeconds.millis(policy.heuristicCap)
            let product = Double(interval) * fraction
            let ms: Int64 = product >= Double(capMillis) ? capMillis : Int64(product)
            heuristic = FreshnessLifetime(millis: ms, source: .heuristic)
        }

        let routeApplies = policy.routeTTLStatuses.contains(status)
        let route = routeApplies ? policy.ttl.map { FreshnessLifetime(millis: DeltaSeconds.millis($0), source: .route) } : nil
        let nothing = FreshnessLifetime(millis: 0, source: .none)

        var chosen: FreshnessLifetime
        switch policy.ttlSource {
        case .cacheControlFirst:
            chosen = explicit ?? route ?? heuristic ?? nothing
        case .routeFirst:
            if let e = explicit, e.source == .sMaxAge { chosen = e } else { chosen = route ?? explicit ?? heuristic ?? nothing }
        case .routeOnly:
            if routeApplies { chosen = route ?? nothing } else { chosen = explicit ?? nothing }
        }
        if let cap = policy.maxTTL {
            chosen.millis = min(chosen.millis, DeltaSeconds.millis(cap))
        }
        return chosen
    }
}
