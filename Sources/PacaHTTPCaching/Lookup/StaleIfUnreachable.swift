/// Whether a stored response may be served when the origin cannot be reached at all (a failed
/// connect, DNS, a timeout — never an answer, not even a 5xx, which is `canServeStaleOnError`'s
/// domain) under a route's `stale_if_unreachable` bound (RFC 9111 §4.2.4: a cache may serve
/// stale when disconnected from the origin, unless that is prohibited).
///
/// Refused when:
/// - the bound (seconds, the route's `staleIfUnreachable`) is absent or zero: the route did not
///   opt in;
/// - the stored response said `no-cache` (`alwaysRevalidate`) or `must-revalidate`,
///   `proxy-revalidate` or `s-maxage` (`mustRevalidate`): §4.2.4 forbids stale serving then;
/// - the request said `no-cache`, `max-age=0`, a `max-age=N` the entry's age exceeds, a
///   `min-fresh` the entry cannot meet, or a `max-stale=N` below its staleness (§5.2.1): the
///   client's own limits hold whatever the route says (`honor_client_no_cache` notwithstanding);
/// - the staleness is beyond the bound.
public func canServeStaleIfUnreachable(
    freshnessLifetimeMillis: Int64,
    currentAgeMillis age: Int64,
    boundSeconds: Int64?,
    mustRevalidate: Bool,
    alwaysRevalidate: Bool,
    request: CacheControl = CacheControl()
) -> Bool {
    guard let boundSeconds, boundSeconds > 0, !alwaysRevalidate, !mustRevalidate else { return false }
    let age = max(0, age)
    let remaining = max(0, freshnessLifetimeMillis) - age
    if request.noCache { return false }
    if let maxAge = request.maxAge, maxAge == 0 || age > DeltaSeconds.millis(maxAge) { return false }
    if let minFresh = request.minFresh, remaining < DeltaSeconds.millis(minFresh) { return false }
    let staleness = max(0, -remaining)
    if let maxStale = request.maxStale, !maxStale.allows(stalenessMillis: staleness) { return false }
    return staleness <= DeltaSeconds.millis(boundSeconds)
}
