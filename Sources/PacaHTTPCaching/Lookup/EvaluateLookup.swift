/// Decides how a stored response may be used for a request (RFC 9111 §4.2, §4.2.4, §5.2.1;
/// RFC 5861 §3).
///
/// Order of the rules:
/// 1. `alwaysRevalidate` (response `no-cache`) → `.revalidate`.
/// 2. When `honorClientNoCache`: request `no-cache` → `.revalidate`; request `max-age=N` with an
///    age above N seconds (so `max-age=0` always) → `.revalidate`; request `min-fresh=N` with
///    less than N seconds of freshness left → `.revalidate`. When `false` these three request
///    directives are ignored (the route trusts its own rules over the client).
///    With `immutable` (the stored response said `immutable` and the route honours it,
///    RFC 8246 §2), a reload — request `no-cache` or `max-age=0` — of a response that is still
///    fresh is not a reason to revalidate: the response will not change while fresh.
/// 3. Fresh (`age < lifetime`) → `.fresh(remainingMillis:)`.
/// 4. Stale within `staleWhileRevalidateMillis` → `.staleWhileRevalidate(staleMillis:)`.
/// 5. Stale, not `mustRevalidate`, and the request's `max-stale` allows it → `.staleAcceptable`.
/// 6. Otherwise `.revalidate`.
public func evaluateLookup(
    freshnessLifetimeMillis: Int64,
    currentAgeMillis age: Int64,
    mustRevalidate: Bool,
    alwaysRevalidate: Bool,
    staleWhileRevalidateMillis: Int64,
    request: CacheControl,
    honorClientNoCache: Bool = true,
    immutable: Bool = false
) -> LookupDecision {
    if alwaysRevalidate { return .revalidate }
    let lifetime = max(0, freshnessLifetimeMillis)
    let age = max(0, age)
    let remaining = lifetime - age
    if honorClientNoCache {
        let immutableReload = immutable && remaining > 0 && (request.noCache || request.maxAge == 0)
        if request.noCache, !immutableReload { return .revalidate }
        if let maxAge = request.maxAge, !immutableReload {
            let limit = DeltaSeconds.millis(maxAge)
            if maxAge == 0 || age > limit { return .revalidate }
        }
        if let minFresh = request.minFresh, remaining < DeltaSeconds.millis(minFresh) { return .revalidate }
    }
    if remaining > 0 { return .fresh(remainingMillis: remaining) }
    let staleness = age - lifetime
    if staleness < max(0, staleWhileRevalidateMillis) { return .staleWhileRevalidate(staleMillis: staleness) }
    if !mustRevalidate, let maxStale = request.maxStale, maxStale.allows(stalenessMillis: staleness) {
        return .staleAcceptable(staleMillis: staleness)
    }
    return .revalidate
}

/// `evaluateLookup` for a stored plan at `nowMillis`.
public func evaluateLookup(
    plan: StoragePlan, nowMillis: Int64, request: CacheControl, honorClientNoCache: Bool = true, immutable: Bool = false
) -> LookupDecision {
    evaluateLookup(
        freshnessLifetimeMillis: plan.freshnessLifetimeMillis,
        currentAgeMillis: plan.currentAgeMillis(nowMillis: nowMillis),
        mustRevalidate: plan.mustRevalidate,
        alwaysRevalidate: plan.alwaysRevalidate,
        staleWhileRevalidateMillis: plan.staleWhileRevalidateMillis,
        request: request,
        honorClientNoCache: honorClientNoCache,
        immutable: immutable)
}
