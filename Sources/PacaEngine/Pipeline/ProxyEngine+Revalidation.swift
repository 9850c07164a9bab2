import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// Revalidation: background refreshes, conditional requests and what their answers do to the
/// stored entry (304 and HEAD freshening, RFC 9111 §4.3.3–4.3.5), and serving stale when the
/// origin fails or cannot be reached.
extension ProxyEngine {

    /// A stored entry that may not be used without the origin: ask with its validators.
    func revalidate(_ exchange: Exchange, stored: CacheEntry, reason: String, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse>
    {
        coalescedFetch(exchange, kind: FetchKind(forward: reason, stored: stored), on: eventLoop)
    }

    /// stale-while-revalidate: refresh `stored` in the background, exactly once per key at a time.
    func refreshInBackground(_ exchange: Exchange, stored: CacheEntry, on eventLoop: any EventLoop) {
        guard let token = coalescer.lead(key: exchange.key) else { return }
        statistics.backgroundRefreshes.increment()
        var background = exchange
        background.directives = nil
        var kind = FetchKind(forward: "stale", token: token, stored: stored)
        kind.background = true
        _ = fetch(background, kind: kind, on: eventLoop, background: true)
    }

    /// After an origin failure while revalidating: the stale entry when stale-if-error allows
    /// (RFC 5861 §4), or, when the origin was unreachable, when the route's
    /// `stale_if_unreachable` bound allows (RFC 9111 §4.2.4); else the error.
    func staleOrError(_ exchange: Exchange, stored: CacheEntry, error: OriginError) -> ProxyResponse {
        if staleAllowedOnError(stored, exchange: exchange) { return serveStale(exchange, stored: stored, detail: "stale-if-error") }
        if error.isUnreachable, staleAllowedWhileUnreachable(stored, exchange: exchange) {
            return serveStale(exchange, stored: stored, detail: "stale-if-unreachable")
        }
        return errorResponse(exchange, error: error, collapsed: false)
    }

    func staleAllowedWhileUnreachable(_ stored: CacheEntry, exchange: Exchange) -> Bool {
        let timing = stored.timing
        return canServeStaleIfUnreachable(
            freshnessLifetimeMillis: timing.freshnessLifetime, currentAgeMillis: timing.currentAge(at: clock.now()),
            boundSeconds: exchange.route.policy.staleIfUnreachable, mustRevalidate: timing.mustRevalidate,
            alwaysRevalidate: timing.alwaysRevalidate, request: exchange.directives?.cacheControl ?? CacheControl())
    }

    func staleAllowedOnError(_ stored: CacheEntry, exchange: Exchange) -> Bool {
        let now = clock.now()
        let timing = stored.timing
        return canServeStaleOnError(
            freshnessLifetimeMillis: timing.freshnessLifetime, currentAgeMillis: timing.currentAge(at: now),
            staleIfErrorMillis: timing.staleIfError, mustRevalidate: timing.mustRevalidate, alwaysRevalidate: timing.alwaysRevalidate,
            request: exchange.directives?.cacheControl ?? CacheControl())
    }

    /// `paca; fwd=stale; ttl=-N; detail=stale-if-error` (or `detail=stale-if-unreachable`)
    func serveStale(_ exchange: Exchange, stored: CacheEntry, detail: String) -> ProxyResponse {
        statistics.staleServed.increment()
        let now = clock.now()
        let ttl = stored.timing.remainingFreshness(at: now)
        let seconds = ttl >= 0 ? ttl / 1000 : -((-ttl + 999) / 1000)
        return serveStored(
            exchange, entry: stored, ttlMillis: ttl, now: now, outcome: .stale,
            cacheStatus: "paca; fwd=stale; ttl=\(seconds); detail=\(detail)")
    }

    /// The stored entry updated from a 304, or from a HEAD 200 with the same validators: its
    /// header fields as RFC 9111 §3.2 says (`mergeNotModified`), its freshness from `update`, its
    /// body kept; `nil` when the result may not be stored (or a purge came after `update` was
    /// asked for).
    func freshened(_ exchange: Exchange, stored: CacheEntry, update: OriginResponse) -> CacheEntry? {
        // An update without Date gets none here, so the freshness below is computed from the
        // response time rather than from the old Date (RFC 9110 §6.6.1); one is added to store.
        let hasDate = update.headers.contains("date")
        var merged = mergeNotModified(
            stored: stored.headers.removing(hasDate ? [] : ["date"]),
            notModified: HeaderRules.responseFields(
                from: update.headers, responseTime: update.responseTime, addVia: update.headers.contains("via")
            )
            .removing(hasDate ? [] : ["date"]))
        // The update's `Age` counts toward the refreshed entry's age (RFC 9111 §4.2.3); paca
        // keeps ages in the entry's timing, never as a stored field.
        let ages = update.headers.filter { $0.name.lowercased() == "age" }
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: stored.status, responseHeaders: merged + ages,
            bodyBytes: stored.body.readableBytes, policy: exchange.route.policy, requestTimeMillis: update.requestTime,
            responseTimeMillis: update.responseTime)
        if !merged.contains("date") {
            merged.append(HTTPField(name: "Date", value: HTTPDate.format(unixSeconds: update.responseTime / 1000)))
        }
        // An update whose `Vary` names other fields than the stored response's changes what
        // selects it (RFC 9111 §4.1): the entry moves to the key this request selects under the
        // new names (`storeFreshened` drops the old one). Only the entry this request selected can
        // move; another variant's selecting request is not at hand, so it is left as it was.
        var key = stored.key
        let storedNames = variantNames(responseHeaders: stored.headers, route: exchange.route)
        let mergedNames = variantNames(responseHeaders: merged, route: exchange.route)
        if mergedNames != storedNames {
            guard let mergedNames, stored.key == storageKey(exchange, varyNames: storedNames ?? []) else { return nil }
            key = storageKey(exchange, varyNames: mergedNames)
        }
        guard case .store(let plan) = decision, !purgedSince(exchange.primaryKey, update.requestTime, key: key, fields: merged)
        else { return nil }
        return CacheEntry(
            key: key, status: stored.status, headers: merged.removing(plan.strippedFieldNames), body: stored.body,
            timing: timing(plan, response: update), etag: plan.etag ?? stored.etag,
            lastModified: plan.lastModified ?? stored.lastModified, encryptAtRest: exchange.route.encrypt)
    }

    /// Stores an entry `freshened` made from `stored`. When the update's `Vary` moved it to
    /// another key, the old key is dropped and the vary marker lists the new one (or, with no
    /// `Vary` left, the entry itself replaces the marker at the primary key).
    @discardableResult
    func storeFreshened(_ exchange: Exchange, entry: CacheEntry, replacing stored: CacheEntry) -> Bool {
        guard entry.key != stored.key else { return cache.store(entry) }
        if stored.key != exchange.primaryKey { cache.remove(stored.key) }
        guard cache.store(entry) else { return false }
        if entry.key != exchange.primaryKey, let names = variantNames(responseHeaders: entry.headers, route: exchange.route) {
            updateVaryMarker(exchange, varyNames: names, variantKey: entry.key, expiry: entry.timing.storageExpiry)
        }
        return true
    }

    /// The stored responses a revalidation of `stored` asks about: `stored` first, then the
    /// other variants of its primary key in L1 with the same status and an `ETag`, most recent
    /// first (at most `max_variants`). Variants only in L2/L3 are not listed.
    func revalidationCandidates(_ exchange: Exchange, stored: CacheEntry) -> [CacheEntry] {
        var candidates = [stored]
        guard stored.key != exchange.primaryKey, let marker = memory.peek(exchange.primaryKey), marker.isVaryMarker else {
            return candidates
        }
        for key in marker.variantKeys.reversed() where key != stored.key {
            guard let entry = memory.peek(key), !entry.isVaryMarker, entry.status == stored.status, entry.etag != nil else { continue }
            candidates.append(entry)
        }
        return candidates
    }

    /// A 304 selected `selected` among the stored responses asked about (RFC 9111 §4.3.4):
    /// each is updated. When the revalidated response is among them the client gets it as
    /// `refreshed` does; otherwise the client gets the first selected one (the origin says it is
    /// the representation for this request), which is also stored under this request's key.
    func refreshed(
        _ exchange: Exchange, stored: CacheEntry, selected: [CacheEntry], notModified: OriginResponse, kind: FetchKind,
        originMillis: Double
    ) -> ProxyResponse {
        var others: [CacheEntry] = []
        for entry in selected where entry.key != stored.key {
            guard let updated = freshened(exchange, stored: entry, update: notModified) else { continue }
            _ = cache.store(updated)
            others.append(updated)
        }
        if selected.contains(where: { $0.key == stored.key }) {
            return refreshed(exchange, stored: stored, notModified: notModified, kind: kind, originMillis: originMillis)
        }
        let chosen = others.first ?? selected[0]
        let entry = CacheEntry(
            key: stored.key, status: chosen.status, headers: chosen.headers, body: chosen.body, timing: chosen.timing, etag: chosen.etag,
            lastModified: chosen.lastModified, encryptAtRest: exchange.route.encrypt)
        let storedNow = !others.isEmpty && cache.store(entry)
        complete(exchange, kind, with: storedNow ? .stored(entry) : .uncacheable)
        let now = clock.now()
        let ttl = entry.timing.remainingFreshness(at: now)
        let status = CacheStatusField.forward(
            kind.forward, status: notModified.status, stored: storedNow, ttlSeconds: storedNow ? ttl / 1000 : nil, detail: "other-variant")
        var response = serveStored(
            exchange, entry: entry, ttlMillis: ttl, now: now, outcome: .revalidated, cacheStatus: status, originMillis: originMillis,
            background: kind.background)
        Self.addSetCookie(from: notModified, to: &response)
        return response
    }

    /// A 304 (or a HEAD 200 with the stored validators) answered a revalidation: update the
    /// stored header fields (RFC 9111 §4.3.4, §4.3.5), reset freshness from it, keep the body.
    func refreshed(_ exchange: Exchange, stored: CacheEntry, notModified: OriginResponse, kind: FetchKind, originMillis: Double)
        -> ProxyResponse
    {
        var entry = stored
        var storedNow = false
        if let updated = freshened(exchange, stored: stored, update: notModified) {
            entry = updated
            storedNow = storeFreshened(exchange, entry: entry, replacing: stored)
        }
        complete(exchange, kind, with: storedNow ? .stored(entry) : .uncacheable)
        let now = clock.now()
        let ttl = entry.timing.remainingFreshness(at: now)
        let status = CacheStatusField.forward(
            kind.forward, status: notModified.status, stored: storedNow, ttlSeconds: storedNow ? ttl / 1000 : nil)
        var response = serveStored(
            exchange, entry: entry, ttlMillis: ttl, now: now, outcome: .revalidated, cacheStatus: status, originMillis: originMillis,
            background: kind.background)
        Self.addSetCookie(from: notModified, to: &response)
        return response
    }

    /// The client whose request was revalidated gets the update's `Set-Cookie` lines: RFC 9111
    /// §4.3.4 answers it with the stored response updated by the 304, and only storing is what
    /// paca's rule keeps `Set-Cookie` from (`notModifiedExcludedFieldNames`), so the stored
    /// entry, and every later hit or collapsed waiter, still goes without them.
    static func addSetCookie(from update: OriginResponse, to response: inout ProxyResponse) {
        for field in update.headers where field.name.lowercased() == "set-cookie" {
            response.headers.add(name: field.name, value: field.value)
        }
    }

    /// The origin answered a conditional HEAD for a stale entry with something other than a
    /// 304 that applies (RFC 9111 §4.3.5): a 200 with the stored validators refreshes the entry;
    /// a 200 with other validators or length marks it stale, a 404 or 410 removes it, and the
    /// client gets the origin's HEAD answer; a 304 that does not apply is followed by a full GET.
    /// A HEAD answer never becomes a stored body.
    func headRevalidated(
        _ exchange: Exchange, stored: CacheEntry, head: OriginStreamingResponse, kind: FetchKind, originMillis: Double,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ProxyResponse> {
        let effect = headResponseEffect(
            status: head.status, headFields: head.headers, storedStatus: stored.status, storedETag: stored.etag,
            storedLastModified: stored.lastModified, storedContentLength: stored.body.readableBytes)
        var detail: String?
        switch effect {
        case .update:
            // A 200 with the stored validators (a 304 that applies was merged before this).
            head.body.cancel()
            let update = OriginResponse(
                status: head.status, headers: head.headers, body: ByteBuffer(), requestTime: head.requestTime,
                responseTime: head.responseTime)
            return eventLoop.makeSucceededFuture(
                refreshed(exchange, stored: stored, notModified: update, kind: kind, originMillis: originMillis))
        case .unchanged where head.status == 304:
            // A 304 that does not match the stored validators says nothing usable: ask anew.
            head.body.cancel()
            complete(exchange, kind, with: .uncacheable)
            return fetch(exchange, kind: FetchKind(forward: kind.forward, hitForMiss: kind.hitForMiss), on: eventLoop)
        case .markStale:
            _ = cache.store(stored.markedStale(at: clock.now()))
            detail = "head-changed"
        case .remove:
            removeGone(exchange, at: head.responseTime)
            detail = "head-gone"
        case .unchanged:
            break
        }
        complete(exchange, kind, with: .uncacheable)
        return eventLoop.makeSucceededFuture(
            passAnswer(
                exchange, response: head, reason: .bypass("head"), originMillis: originMillis,
                cacheStatus: CacheStatusField.forward(kind.forward, status: head.status, detail: detail)))
    }
}
