/// Whether a stored response may be served after the origin failed (an error, a timeout or a
/// 500/502/503/504 answer) while revalidating it (RFC 9111 §4.2.4; RFC 5861 §4).
///
/// - A response with `no-cache` (`alwaysRevalidate`) is never served without validation.
/// - A fresh response may be served.
/// - A stale one may not when `mustRevalidate` (the engine answers 504, §5.2.2.2); otherwise it
///   may while its staleness is within the response's `staleIfErrorMillis`, within the
///   request's own `stale-if-error=N` (RFC 5861 §4 allows it in requests), or within the
///   request's `max-stale`.
public func canServeStaleOnError(
    freshnessLifetimeMillis: Int64,
    currentAgeMillis age: Int64,
    staleIfErrorMillis: Int64,
    mustRevalidate: Bool,
    alwaysRevalidate: Bool,
    request: CacheControl = CacheControl()
) -> Bool {
    if alwaysRevalidate { return false }
    let staleness = max(0, age) - max(0, freshnessLifetimeMillis)
    if staleness < 0 { return true }
    if mustRevalidate { return false }
    if staleness <= max(0, staleIfErrorMillis) && staleIfErrorMillis > 0 { return true }
    if let s = request.staleIfError, staleness <= DeltaSeconds.millis(s) { return true }
    if let maxStale = request.maxStale, maxStale.allows(stalenessMillis: staleness) { return true }
    return false
}

/// `canServeStaleOnError` for a stored plan at `nowMillis`.
public func canServeStaleOnError(plan: StoragePlan, nowMillis: Int64, request: CacheControl = CacheControl()) -> Bool {
    canServeStaleOnError(
        freshnessLifetimeMillis: plan.freshnessLifetimeMillis,
        currentAgeMillis: plan.currentAgeMillis(nowMillis: nowMillis),
        staleIfErrorMillis: plan.staleIfErrorMillis,
        mustRevalidate: plan.mustRevalidate,
        alwaysRevalidate: plan.alwaysRevalidate,
        request: request)
}
