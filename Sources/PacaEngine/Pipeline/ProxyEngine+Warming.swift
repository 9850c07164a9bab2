public import NIOCore
import NIOHTTP1
public import PacaCore
import PacaStorage

/// Warming through the pipeline: a prewarmer's GET takes the route, key, rules, tiers and
/// coalescing a client's GET would, leads the fill for its key in the background (a client
/// asking meanwhile waits on that fill instead of fetching again), and is never access-logged
/// or counted as a client's hit or miss.
extension ProxyEngine {
    /// Warms `request.url` as `request.mode` says; the future completes when the entry is in
    /// place (or the attempt ended), with what was done.
    public func warm(_ request: WarmRequest, on eventLoop: any EventLoop) -> EventLoopFuture<WarmOutcome> {
        guard eventLoop.inEventLoop else { return eventLoop.flatSubmit { self.warm(request, on: eventLoop) } }
        let now = clock.now()
        guard let target = try? RequestTarget.parseReceived(request.url) else {
            return eventLoop.makeSucceededFuture(.skipped(reason: "not a request target: \(request.url)"))
        }
        guard let route = routes.route(for: target.path) else {
            return eventLoop.makeSucceededFuture(.skipped(reason: "no route for \(target.path)"))
        }
        guard route.cache, route.methods?.contains("GET") ?? true else {
            return eventLoop.makeSucceededFuture(.skipped(reason: "route \(route.name) does not cache GET"))
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.url)
        head.headers.add(name: "Host", value: request.host ?? route.origin.authority)
        var exchange = Exchange(
            request: ProxyRequest(head: head, peer: "prewarm"), route: route, target: target, startTime: now, startUptime: .now())
        exchange.warming = true
        assignKey(&exchange)

        switch lookup(&exchange, now: now) {
        case .found(let entry):
            if request.mode == .refresh {
                return warmFetch(exchange, stored: entry, on: eventLoop)
            }
            if entry.timing.remainingFreshness(at: now) > 0, !entry.timing.alwaysRevalidate {
                return eventLoop.makeSucceededFuture(.fresh(Self.warmEntry(entry, primaryKey: exchange.primaryKey, now: now)))
            }
            return request.mode == .promote
                ? eventLoop.makeSucceededFuture(.notCached) : warmFetch(exchange, stored: entry, on: eventLoop)
        case .miss, .varyMiss:
            guard cache.hasLowerTiers else {
                return request.mode == .promote
                    ? eventLoop.makeSucceededFuture(.notCached) : warmFetch(exchange, stored: nil, on: eventLoop)
            }
            return warmFromBelow(exchange, mode: request.mode, on: eventLoop)
        }
    }

    /// L1 had nothing: promote from L2/L3 when they hold a fresh entry (a large L2 entry stays
    /// there, served from its file), else ask the origin unless only promotion was asked for.
    private func warmFromBelow(_ exchange: Exchange, mode: WarmRequest.Mode, on eventLoop: any EventLoop) -> EventLoopFuture<
        WarmOutcome
    > {
        let primaryKey = exchange.primaryKey
        let now = exchange.startTime
        let filter = banFilter(primaryKey: primaryKey, now: now)
        let promise = eventLoop.makePromise(of: LowerLookup?.self)
        promise.completeWithTask { [cache] in
            guard let found = await cache.getLowerForServing(primaryKey, now: now, on: eventLoop, filter: filter) else { return nil }
            return LowerLookup(found.hit, tier: found.tier)
        }
        return promise.futureResult.hop(to: eventLoop).flatMap { found in
            found?.file?.cancel()
            if let found, let entry = found.entry, !entry.isVaryMarker {
                let fresh = entry.timing.remainingFreshness(at: now) > 0 && !entry.timing.alwaysRevalidate
                if fresh {
                    let described = Self.warmEntry(entry, primaryKey: primaryKey, now: now)
                    return eventLoop.makeSucceededFuture(found.file == nil ? .promoted(described, tier: found.tier) : .fresh(described))
                }
                if mode != .promote, found.file == nil { return self.warmFetch(exchange, stored: entry, on: eventLoop) }
            }
            return mode == .promote ? eventLoop.makeSucceededFuture(.notCached) : self.warmFetch(exchange, stored: nil, on: eventLoop)
        }
    }

    /// Leads a background fill of the exchange's key (conditional when `stored` has validators)
    /// and reports its outcome once the entry is stored (a streamed body: at its end);
    /// `.alreadyFilling` when another fill of the key is in flight.
    private func warmFetch(_ exchange: Exchange, stored: CacheEntry?, on eventLoop: any EventLoop) -> EventLoopFuture<WarmOutcome> {
        guard let (token, outcome) = coalescer.leadObserving(key: exchange.key, on: eventLoop) else {
            return eventLoop.makeSucceededFuture(.alreadyFilling)
        }
        var kind = FetchKind(forward: stored == nil ? "uri-miss" : "stale", token: token, stored: stored)
        kind.background = true
        let started = NIODeadline.now()
        let answered = fetch(exchange, kind: kind, on: eventLoop, background: true)
        return waitForFill(outcome, exchange: exchange, on: eventLoop).and(answered).map { fill, response in
            let originMillis = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
            let now = self.clock.now()
            switch fill {
            case .stored(let entry):
                let unchanged = stored.map { $0.body == entry.body } ?? false
                return .fetched(
                    Self.warmEntry(entry, primaryKey: exchange.primaryKey, now: now), originMillis: originMillis, notModified: unchanged)
            case .storedBelow:
                let entry = WarmOutcome.Entry(key: exchange.primaryKey, expiry: now, lifetime: 0, bytes: 0)
                return .fetched(entry, originMillis: originMillis, notModified: false)
            case .uncacheable:
                return .notStored(status: Int(response.status.code), originMillis: originMillis)
            case .failed(let error):
                return .failed(reason: error.message, originMillis: originMillis)
            case nil:
                return .failed(reason: "no outcome within the route's timeout", originMillis: originMillis)
            }
        }
    }

    /// The routes in force.
    public var routeTable: RouteTable { routes }

    /// The primary cache key a GET for `url` would use, or `nil` when no caching route takes it.
    public func primaryKey(forURL url: String, host: String? = nil) -> String? {
        guard let target = try? RequestTarget.parseReceived(url), let route = routes.route(for: target.path), route.cache else {
            return nil
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url)
        if let host { head.headers.add(name: "Host", value: host) }
        var exchange = Exchange(
            request: ProxyRequest(head: head, peer: "prewarm"), route: route, target: target, startTime: 0, startUptime: .now())
        assignKey(&exchange)
        return exchange.primaryKey
    }

    static func warmEntry(_ entry: CacheEntry, primaryKey: String, now: UnixMillis) -> WarmOutcome.Entry {
        WarmOutcome.Entry(
            key: primaryKey, expiry: now + entry.timing.remainingFreshness(at: now), lifetime: entry.timing.freshnessLifetime,
            bytes: entry.body.readableBytes)
    }
}
