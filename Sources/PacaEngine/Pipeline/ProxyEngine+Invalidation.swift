import Foundation
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

extension ProxyEngine {
    /// RFC 9111 §4.4: a non-error answer to an unsafe method invalidates the target URI and the
    /// same-host URIs in `Location` and `Content-Location`. Any method but GET, HEAD, OPTIONS and
    /// TRACE is unsafe (RFC 9110 §9.2.1), extension methods (`PURGE`, `PROPFIND`, `M-SEARCH`…)
    /// included. The request's own target is banned at `targetBannedAt` when given (a POST answer
    /// about to be stored for it, fetched after that time), else at `now`.
    func invalidateAfterUnsafe(
        _ exchange: Exchange, status: Int, headers: [HTTPField], now: UnixMillis, targetBannedAt: UnixMillis? = nil
    ) {
        var path = exchange.target.path
        if let query = exchange.target.query, !query.isEmpty { path += "?" + query }
        let targets = invalidationTargets(
            method: exchange.request.head.method.wireName, status: status, requestPath: path,
            requestAuthority: exchange.request.head.headers.first(name: "host") ?? "",
            location: headers.first("location"), contentLocation: headers.first("content-location"))
        for (index, target) in targets.enumerated() {
            let time = index == 0 ? targetBannedAt ?? now : now
            invalidate(target: target, clientHost: exchange.request.head.headers.first(name: "host"), now: time)
        }
    }

    /// Removes every stored variant of `target` (a path with optional query) under the route
    /// that serves it; returns how many entries went. A fill for it that is in flight can no
    /// longer store (it was sent before the purge) and new requests do not join it.
    @discardableResult
    func invalidate(target: String, clientHost: String?, now: UnixMillis) -> Int {
        guard let parsed = try? RequestTarget.parse(target), let route = routes.route(for: parsed.path) else { return 0 }
        let host = route.preserveHost ? (clientHost?.lowercased() ?? route.origin.authority) : route.origin.authority
        let keyed = CacheKeyBuilder.keyedQuery(parsed.query, rule: route.keyQuery)
        let primary = CacheKeyBuilder.key(route: route, host: host, path: parsed.path, keyedQuery: keyed)
        var removed = 0
        if let marker = memory.peek(primary) {
            removed = 1 + (marker.isVaryMarker ? marker.variantKeys.count : 0)
        }
        cache.removeFamily(primary)
        _ = memory.remove(CacheEntry.partialKey(primaryKey: primary))
        rememberPurge(primary, at: now)
        publish(
            Ban(
                id: UUID().uuidString, target: .url(primaryKey: primary), at: now, soft: false,
                expires: max(now, longestStorageExpiry.load(ordering: .relaxed)) + 1))
        coalescer.abandon(key: primary, with: .uncacheable)
        statistics.invalidations.increment()
        return removed
    }

    // MARK: - Bounded memories

    // Both maps forget their least recently used keys one at a time when full, never all at
    // once, and neither can evict the other's entries.

    func rememberPurge(_ key: String, at time: UnixMillis) {
        bans.recordKey(key, at: time)
    }

    /// Whether a ban made after a fill sent at `requestTime` names it: a URL purge of
    /// `primaryKey`, or a pattern, regex or tag ban matching `key` with its fields.
    func purgedSince(_ primaryKey: String, _ requestTime: UnixMillis, key: String? = nil, fields: [HTTPField] = []) -> Bool {
        bans.blocksFill(key: key ?? primaryKey, primaryKey: primaryKey, fields: fields, requestTime: requestTime)
    }

    func rememberHitForMiss(_ key: String, now: UnixMillis) {
        let until = now + configuration.hitForMissDuration.milliseconds
        _ = hitForMiss.withLock { $0.set(until, for: key) }
    }

    func forgetHitForMiss(_ key: String) {
        _ = hitForMiss.withLock { $0.removeValue(for: key) }
    }

    func isHitForMiss(_ key: String, now: UnixMillis) -> Bool {
        hitForMiss.withLock { remembered in
            guard let until = remembered.get(key) else { return false }
            if until <= now {
                remembered.removeValue(for: key)
                return false
            }
            return true
        }
    }
}
