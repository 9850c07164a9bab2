import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

extension ProxyEngine {
    /// Why a request goes to the origin without the cache.
    enum PassReason {
        /// An unsafe or otherwise uncacheable method (`fwd=method`).
        case method
        /// A rule said so (`fwd=bypass; detail=…`).
        case bypass(String)
    }

    /// How a fetch came about, for `Cache-Status` and the log.
    struct FetchKind {
        /// `uri-miss`, `vary-miss`, `stale`, `request`.
        var forward: String
        /// Whether this request leads the fill for its key (and so completes it).
        var token: RequestCoalescer<FillOutcome>.Token?
        /// The stored entry being revalidated, if any.
        var stored: CacheEntry?
        /// Skipped coalescing because the key is hit-for-miss.
        var hitForMiss = false
        /// A stale-while-revalidate refresh nobody waits on (logged as such).
        var background = false
        /// The nodes' lock this fill holds, released when the fill completes.
        var lease: SharedFillLease?
    }

    // MARK: - Miss

    /// A cacheable request that found nothing usable: answered from stored 206 parts when they
    /// cover its `Range`, else join or lead the fill for its key.
    func miss(_ exchange: Exchange, reason: String, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        if let response = serveFromParts(exchange, now: exchange.startTime) { return eventLoop.makeSucceededFuture(response) }
        if isHitForMiss(exchange.key, now: exchange.startTime) {
            return fetch(exchange, kind: FetchKind(forward: reason, hitForMiss: true), on: eventLoop)
        }
        return coalescedFetch(exchange, kind: FetchKind(forward: reason), on: eventLoop)
    }

    /// Leads the fill for the exchange's key, or waits on the one in flight and serves its
    /// outcome; a waiter whose fill cannot serve it (not shareable, another variant, timed out)
    /// fetches on its own.
    func coalescedFetch(_ exchange: Exchange, kind: FetchKind, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        switch coalescer.join(key: exchange.key, on: eventLoop) {
        case .leader(let token):
            var leading = kind
            leading.token = token
            if let sharedFillLock, kind.stored == nil, !kind.background {
                return sharedFill(exchange, kind: leading, lock: sharedFillLock, on: eventLoop)
            }
            return fetch(exchange, kind: leading, on: eventLoop)
        case .alone:
            return fetch(exchange, kind: kind, on: eventLoop)
        case .follower(let outcome):
            statistics.collapsed.increment()
            return waitForFill(outcome, exchange: exchange, on: eventLoop).flatMap { outcome in
                switch outcome {
                case .some(.stored(let entry)) where self.entryServes(entry, exchange: exchange):
                    return eventLoop.makeSucceededFuture(self.collapsedResponse(exchange, entry: entry, reason: kind.forward))
                case .some(.storedBelow):
                    switch self.afterMemoryMiss(exchange, reason: kind.forward, on: eventLoop) {
                    case .immediate(let response): return eventLoop.makeSucceededFuture(response)
                    case .deferred(let future): return future
                    }
                case .some(.failed(let error)):
                    if let stored = kind.stored {
                        return eventLoop.makeSucceededFuture(self.staleOrError(exchange, stored: stored, error: error))
                    }
                    return eventLoop.makeSucceededFuture(self.errorResponse(exchange, error: error, collapsed: true))
                default:
                    return self.fetch(exchange, kind: kind, on: eventLoop)
                }
            }
        }
    }

    /// Waits for a fill's outcome, at most the route's timeout plus a second (plus the nodes'
    /// lock timeout, which the leader may spend waiting on another node); `nil` on timeout.
    func waitForFill(_ outcome: EventLoopFuture<FillOutcome>, exchange: Exchange, on eventLoop: any EventLoop) -> EventLoopFuture<
        FillOutcome?
    > {
        let promise = eventLoop.makePromise(of: FillOutcome?.self)
        let limit = TimeAmount.milliseconds(
            exchange.route.timeout.milliseconds + 1000 + (sharedFillLock?.lockTimeout.milliseconds ?? 0))
        let done = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let timer = eventLoop.scheduleTask(in: limit) {
            guard !done.value else { return }
            done.value = true
            promise.succeed(nil)
        }
        outcome.hop(to: eventLoop).whenComplete { result in
            guard !done.value else { return }
            done.value = true
            timer.cancel()
            promise.succeed(try? result.get())
        }
        return promise.futureResult
    }

    /// Whether a filled entry is the one this exchange needs (the same variant).
    func entryServes(_ entry: CacheEntry, exchange: Exchange) -> Bool {
        entry.key == exchange.key || entry.key == expectedVariantKey(for: entry, exchange: exchange)
    }

    private func expectedVariantKey(for entry: CacheEntry, exchange: Exchange) -> String? {
        guard entry.key.hasPrefix(exchange.primaryKey + "|v:") else { return nil }
        let names = variantNames(responseHeaders: entry.headers, route: exchange.route) ?? []
        return CacheEntry.variantKey(
            primaryKey: exchange.primaryKey, secondaryKey: secondaryKey(varyNames: names, requestHeaders: exchange.requestFields))
    }

    /// The answer for a request that waited on another's fill.
    func collapsedResponse(_ exchange: Exchange, entry: CacheEntry, reason: String) -> ProxyResponse {
        let now = clock.now()
        let ttl = entry.timing.remainingFreshness(at: now)
        return serveStored(
            exchange, entry: entry, ttlMillis: ttl, now: now, outcome: .miss,
            cacheStatus: CacheStatusField.forward(reason, status: entry.status, collapsed: true, ttlSeconds: ttl / 1000))
    }

    // MARK: - Fetch and store

    /// Fetches the keyed request (conditionally when revalidating), stores the answer when
    /// allowed, completes the fill it leads, and answers. In the background mode the answer is
    /// only logged.
    func fetch(_ exchange: Exchange, kind: FetchKind, on eventLoop: any EventLoop, background: Bool = false) -> EventLoopFuture<
        ProxyResponse
    > {
        let route = exchange.route
        var fields = cacheableRequestFields(exchange, isFill: !kind.hitForMiss)
        // The stored responses for the key that the origin is asked about (RFC 9111 §4.3.1,
        // §4.3.4): the one revalidated first, then its sibling variants; a 304 updates the one
        // its validator selects.
        let candidates = kind.stored.map { revalidationCandidates(exchange, stored: $0) } ?? []
        if let stored = kind.stored {
            if candidates.count > 1 {
                fields.append(contentsOf: revalidationHeaders(etags: candidates.map(\.etag), lastModified: stored.lastModified))
            } else {
                fields.append(contentsOf: revalidationHeaders(etag: stored.etag, lastModified: stored.lastModified))
            }
        }
        // A HEAD for a stale entry is revalidated with a conditional HEAD (RFC 9111 §4.3.5):
        // the client needs no body, and a 304 or a matching 200 refreshes the stored GET.
        let headRevalidation = exchange.isHead && kind.stored != nil && !background
        let request = OriginRequest(
            method: headRevalidation ? "HEAD" : "GET",
            url: originURL(route: route, path: exchange.target.path, query: exchange.keyedQuery),
            headers: fields,
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes,
            // The origin's interim responses (a 103's hints) go to the client whose request this
            // fetch answers, only: a coalesced follower waits on the fill and gets the final
            // answer alone; a background refresh has nobody to tell (RFC 9110 §15.2).
            onInterim: background ? nil : exchange.request.interim)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.stream(request, on: eventLoop).flatMap { head -> EventLoopFuture<ProxyResponse> in
            let originNanoseconds = (NIODeadline.now() - originStart).nanoseconds
            self.statistics.originAnswered(self.routeCounters(exchange), nanoseconds: originNanoseconds)
            let originMillis = Double(originNanoseconds) / 1_000_000
            if let stored = kind.stored {
                if head.status == 304 {
                    let selected = storedResponsesSelected(
                        byNotModified: head.headers,
                        among: candidates.map {
                            StoredValidators(etag: $0.etag, lastModified: $0.lastModified, responseTime: $0.timing.responseTime)
                        }
                    ).map { candidates[$0] }
                    if !selected.isEmpty {
                        head.body.cancel()
                        let notModified = OriginResponse(
                            status: 304, headers: head.headers, body: ByteBuffer(), requestTime: head.requestTime,
                            responseTime: head.responseTime)
                        return eventLoop.makeSucceededFuture(
                            self.refreshed(
                                exchange, stored: stored, selected: selected, notModified: notModified, kind: kind,
                                originMillis: originMillis))
                    }
                    if !headRevalidation {
                        // No stored response matches: the 304 updates none (RFC 9111 §4.3.4),
                        // and the request goes again without conditions.
                        head.body.cancel()
                        self.complete(exchange, kind, with: .uncacheable)
                        return self.fetch(exchange, kind: FetchKind(forward: kind.forward, hitForMiss: kind.hitForMiss), on: eventLoop)
                    }
                }
                if head.status >= 500, self.staleAllowedOnError(stored, exchange: exchange) {
                    head.body.cancel()
                    self.complete(exchange, kind, with: .failed(.protocolError("origin answered \(head.status)")))
                    return eventLoop.makeSucceededFuture(self.serveStale(exchange, stored: stored, detail: "stale-if-error"))
                }
                if headRevalidation {
                    return self.headRevalidated(exchange, stored: stored, head: head, kind: kind, originMillis: originMillis, on: eventLoop)
                }
            }
            // A body that will be kept whole in L1 anyway is read whole first (bounded by L1's
            // entry limit), so the answer knows exactly what was stored; anything larger or of
            // unknown length streams to the client as it arrives.
            if let length = head.contentLength, length <= self.memory.maxEntryBytes {
                return head.collect(on: eventLoop).map { response in
                    if response.status == 206, kind.stored == nil {
                        return self.storePartAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis)
                    }
                    return self.storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis)
                }
            }
            // Wait for the first byte (or the end), so an origin that breaks before sending any
            // body still gets a clean 502 rather than a 200 cut short.
            return head.body.firstPartOrEnd.map {
                let response = self.streamAndStore(exchange, head: head, kind: kind, originMillis: originMillis)
                if background { response.stream?.cancel() }  // nobody reads it: the fill goes on for the cache
                return response
            }
        }.flatMapErrorThrowing { error in
            let originError = error as? OriginError ?? .protocolError("\(error)")
            self.statistics.originFailed(originError)
            self.complete(exchange, kind, with: .failed(originError))
            if let stored = kind.stored { return self.staleOrError(exchange, stored: stored, error: originError) }
            return self.errorResponse(exchange, error: originError, collapsed: false)
        }
    }

    /// Completes the fill `kind` leads, if any, and frees the nodes' lock it holds.
    func complete(_ exchange: Exchange, _ kind: FetchKind, with outcome: FillOutcome) {
        if let lease = kind.lease { releaseSharedFill(lease, outcome: outcome) }
        guard let token = kind.token else { return }
        coalescer.complete(key: exchange.key, token: token, with: outcome)
    }

    /// The `EntryTiming` of a storage plan for a streamed answer.
    func timing(_ plan: StoragePlan, response: OriginStreamingResponse) -> EntryTiming {
        timing(
            plan,
            response: OriginResponse(
                status: response.status, headers: [], body: ByteBuffer(), requestTime: response.requestTime,
                responseTime: response.responseTime))
    }

    /// The `EntryTiming` of a storage plan.
    func timing(_ plan: StoragePlan, response: OriginResponse) -> EntryTiming {
        EntryTiming(
            requestTime: response.requestTime, responseTime: response.responseTime,
            correctedInitialAge: plan.correctedInitialAgeMillis, freshnessLifetime: plan.freshnessLifetimeMillis,
            staleWhileRevalidate: plan.staleWhileRevalidateMillis, staleIfError: plan.staleIfErrorMillis,
            mustRevalidate: plan.mustRevalidate, alwaysRevalidate: plan.alwaysRevalidate,
            storageExpiry: response.responseTime + plan.storageLifetimeMillis)
    }

    /// 502 for a connection or protocol failure, 504 for a timeout; no `Cache-Status` member
    /// (DESIGN.md: locally generated errors carry none).
    func errorResponse(_ exchange: Exchange, error: OriginError, collapsed: Bool) -> ProxyResponse {
        let status: HTTPResponseStatus
        switch error {
        case .timedOut: status = .gatewayTimeout
        case .shutDown: status = .serviceUnavailable
        default: status = .badGateway
        }
        logger.warning(
            "origin request failed",
            metadata: ["route": "\(exchange.route.name)", "url": "\(exchange.target.path)", "error": "\(error.message)"])
        if !exchange.warming {
            accessLog?.append(
                record(exchange, status: Int(status.code), bytes: 0, cache: .miss, ttl: nil, collapsed: collapsed, originMillis: nil))
        }
        return .plain(status, "\(status.code) \(status.reasonPhrase): \(error.message)")
    }
}
