/// Decides whether a shared cache may store a response, and if so with which metadata
/// (RFC 9111 §3, §3.5, §4.2, §5.2; RFC 5861; paca's route rules).
///
/// Checks, in this order (the first failing one is the reason):
/// 1. method GET or HEAD (`.method`);
/// 2. status final, 200–599, not 304 (`.status`); 206 (`.partial`); `must-understand` with an
///    status not understood (`.status`);
/// 3. `no-store` in request or response (`.noStore`; `must-understand` with an understood status
///    overrides the response's `no-store`, §5.2.2.3);
/// 4. unqualified `private` (`.isPrivate`);
/// 5. `Authorization` in the request without `public`, `s-maxage` or `must-revalidate` in the
///    response (§3.5) and without the route exception `"authorization"` (`.authorization`); when
///    it is stored, only the origin's explicit lifetime counts (no route `ttl`, no heuristic, no
///    route stale windows), so `must-revalidate` without one means revalidate on every use;
/// 6. `Vary: *` (`.varyStar`);
/// 7. `Set-Cookie` without the route exception `"set-cookie"` (`.setCookie`);
/// 8. `bodyBytes > policy.maxBodyBytes` (`.tooLarge`);
/// 9. a status that is not heuristically cacheable needs `public`, `max-age`, `s-maxage`,
///    `Expires` or an applicable route `ttl` (§3) (`.status`);
/// 10. unqualified `no-cache` without a validator (`.noCacheWithoutValidator`);
/// 11. nothing to serve later: no remaining freshness, no stale window, no validator (`.noFreshness`).
///
/// Stale windows: none under `no-cache`, `must-revalidate` or `proxy-revalidate` (§4.2.4);
/// with `s-maxage` only the origin's own `stale-*`; otherwise the origin's, else the route's.
/// The route's `staleIfUnreachable` bound lengthens the storage lifetime (never the freshness,
/// never storability) where stale serving is allowed at all and `s-maxage` is absent.
///
/// The directives are the response's `Cache-Control`, or the first valid targeted field of
/// `policy.cacheControlTargets` (RFC 9213 §2.2), which then replaces `Cache-Control` and
/// `Expires` in every rule above.
public func evaluateStorability(
    method: String,
    requestHeaders: [HTTPField],
    status: Int,
    responseHeaders: [HTTPField],
    bodyBytes: Int,
    policy: RoutePolicy,
    requestTimeMillis: Int64,
    responseTimeMillis: Int64
) -> StorabilityDecision {
    guard method == "GET" || method == "HEAD" else { return .doNotStore(.method) }
    guard status >= 200, status <= 599, status != 304 else { return .doNotStore(.status) }
    if status == 206 { return .doNotStore(.partial) }

    let directives = ResponseCacheDirectives(responseHeaders: responseHeaders, targets: policy.cacheControlTargets)
    let cc = directives.cacheControl
    let freshnessFields = directives.freshnessFields(responseHeaders)
    let request = RequestDirectives(headers: requestHeaders)
    let ignore = Set(policy.ignore.map(ASCII.lowercased))
    let understood = StatusCodes.understood.contains(status)

    if cc.mustUnderstand && !understood { return .doNotStore(.status) }
    if request.noStore { return .doNotStore(.noStore) }
    if cc.noStore && !(cc.mustUnderstand && understood) { return .doNotStore(.noStore) }
    if cc.isPrivate { return .doNotStore(.isPrivate) }
    var policy = policy
    if requestHeaders.contains("authorization"), !ignore.contains("authorization") {
        guard cc.isPublic || cc.sMaxAge != nil || cc.mustRevalidate else { return .doNotStore(.authorization) }
        // §3.5 lets the origin share an answer to an authorized request; only the origin may say
        // for how long. A route `ttl` (in any ttl_source) or a heuristic never stands in for an
        // explicit lifetime, and route stale windows never serve it to others: with
        // `must-revalidate` and no lifetime it is revalidated on every use (DESIGN.md §3).
        policy.ttl = nil
        policy.heuristicFraction = 0
        policy.staleWhileRevalidate = nil
        policy.staleIfError = nil
        policy.staleIfUnreachable = nil
    }
    if varyFieldNames(responseHeaders) == nil { return .doNotStore(.varyStar) }
    if responseHeaders.contains("set-cookie") && !ignore.contains("set-cookie") { return .doNotStore(.setCookie) }
    if bodyBytes > policy.maxBodyBytes { return .doNotStore(.tooLarge) }

    let hasExpires = freshnessFields.contains("expires")
    let routeTTLApplies = policy.ttl != nil && policy.routeTTLStatuses.contains(status)
    if !StatusCodes.heuristicallyCacheable.contains(status),
        !(cc.isPublic || cc.maxAge != nil || cc.sMaxAge != nil || hasExpires || routeTTLApplies)
    {
        return .doNotStore(.status)
    }

    let etag = responseHeaders.first("etag").map { ASCII.trimmed($0) }.flatMap { $0.isEmpty ? nil : $0 }
    let lastModified = responseHeaders.first("last-modified").map { ASCII.trimmed($0) }
        .flatMap { HTTPDate.parse($0) == nil ? nil : $0 }
    let hasValidator = etag != nil || lastModified != nil
    if cc.noCache && !hasValidator { return .doNotStore(.noCacheWithoutValidator) }

    let dateMillis = responseHeaders.first("date").flatMap(HTTPDate.parse).map { Sat.mul($0, 1000) } ?? responseTimeMillis
    let lifetime = FreshnessLifetime.compute(
        status: status, responseHeaders: freshnessFields, cacheControl: cc, dateMillis: dateMillis, policy: policy)
    let initialAge = correctedInitialAgeMillis(
        ageSeconds: ageHeaderSeconds(responseHeaders), dateMillis: dateMillis,
        requestTimeMillis: requestTimeMillis, responseTimeMillis: responseTimeMillis)

    var swr: Int64 = 0
    var sie: Int64 = 0
    var unreachable: Int64 = 0
    if !(cc.noCache || cc.mustRevalidate || cc.proxyRevalidate) {
        let routeWindows = cc.sMaxAge == nil
        swr = DeltaSeconds.millis(cc.staleWhileRevalidate ?? (routeWindows ? policy.staleWhileRevalidate : nil) ?? 0)
        sie = DeltaSeconds.millis(cc.staleIfError ?? (routeWindows ? policy.staleIfError : nil) ?? 0)
        // s-maxage forbids stale serving in a shared cache (§5.2.2.10), so its bound never applies.
        unreachable = DeltaSeconds.millis((routeWindows ? policy.staleIfUnreachable : nil) ?? 0)
    }

    let usable = max(0, Sat.sub(Sat.add(lifetime.millis, max(swr, sie)), initialAge))
    let keep = hasValidator ? DeltaSeconds.millis(policy.keepWithValidators) : 0
    if usable == 0 && !hasValidator { return .doNotStore(.noFreshness) }
    // Kept long enough to be served stale within the route's unreachable-origin bound.
    let kept = max(usable, Sat.sub(Sat.add(lifetime.millis, unreachable), initialAge))

    var stripped: Set<String> = ["set-cookie", "age", "proxy-authenticate", "proxy-authentication-info"]
    stripped.formUnion(HopByHop.fixedNames)
    stripped.formUnion(HopByHop.names(in: responseHeaders))
    stripped.formUnion(cc.privateFields)
    stripped.formUnion(cc.noCacheFields)

    return .store(
        StoragePlan(
            freshnessLifetimeMillis: lifetime.millis,
            correctedInitialAgeMillis: initialAge,
            responseTimeMillis: responseTimeMillis,
            requestTimeMillis: requestTimeMillis,
            dateMillis: dateMillis,
            staleWhileRevalidateMillis: swr,
            staleIfErrorMillis: sie,
            mustRevalidate: cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge != nil,
            alwaysRevalidate: cc.noCache,
            storageLifetimeMillis: Sat.add(kept, keep),
            etag: etag,
            lastModified: lastModified,
            strippedFieldNames: stripped,
            heuristic: lifetime.source == .heuristic
        ))
}
