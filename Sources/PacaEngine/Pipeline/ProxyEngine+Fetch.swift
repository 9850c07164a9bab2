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
    }

    // MARK: - Miss

    /// A cacheable request that found nothing usable: join or lead the fill for its key.
    func miss(_ exchange: Exchange, reason: String, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
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

    /// Waits for a fill's outcome, at most the route's timeout plus a second; `nil` on timeout.
    func waitForFill(_ outcome: EventLoopFuture<FillOutcome>, exchange: Exchange, on eventLoop: any EventLoop) -> EventLoopFuture<
        FillOutcome?
    > {
        let promise = eventLoop.makePromise(of: FillOutcome?.self)
        let limit = TimeAmount.milliseconds(exchange.route.timeout.milliseconds + 1000)
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

    // MARK: - Revalidation

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

    // MARK: - Fetch and store

    /// Fetches the keyed request (conditionally when revalidating), stores the answer when
    /// allowed, completes the fill it leads, and answers. In the background mode the answer is
    /// only logged.
    func fetch(_ exchange: Exchange, kind: FetchKind, on eventLoop: any EventLoop, background: Bool = false) -> EventLoopFuture<
        ProxyResponse
    > {
        let route = exchange.route
        var fields = cacheableRequestFields(exchange, isFill: !kind.hitForMiss)
        if let stored = kind.stored {
            fields.append(contentsOf: revalidationHeaders(etag: stored.etag, lastModified: stored.lastModified))
        }
        let request = OriginRequest(
            method: "GET",
            url: originURL(route: route, path: exchange.target.path, query: exchange.keyedQuery),
            headers: fields,
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.stream(request, on: eventLoop).flatMap { head -> EventLoopFuture<ProxyResponse> in
            let originNanoseconds = (NIODeadline.now() - originStart).nanoseconds
            self.statistics.originAnswered(exchange.route.name, nanoseconds: originNanoseconds)
            let originMillis = Double(originNanoseconds) / 1_000_000
            if let stored = kind.stored {
                if head.status == 304,
                    notModifiedApplies(notModified: head.headers, storedETag: stored.etag, storedLastModified: stored.lastModified)
                {
                    head.body.cancel()
                    let notModified = OriginResponse(
                        status: 304, headers: head.headers, body: ByteBuffer(), requestTime: head.requestTime,
                        responseTime: head.responseTime)
                    return eventLoop.makeSucceededFuture(
                        self.refreshed(exchange, stored: stored, notModified: notModified, kind: kind, originMillis: originMillis))
                }
                if head.status >= 500, self.staleAllowedOnError(stored, exchange: exchange) {
                    head.body.cancel()
                    self.complete(exchange, kind, with: .failed(.protocolError("origin answered \(head.status)")))
                    return eventLoop.makeSucceededFuture(self.serveStale(exchange, stored: stored, detail: "stale-if-error"))
                }
            }
            // A body that will be kept whole in L1 anyway is read whole first (bounded by L1's
            // entry limit), so the answer knows exactly what was stored; anything larger or of
            // unknown length streams to the client as it arrives.
            if let length = head.contentLength, length <= self.memory.maxEntryBytes {
                return head.collect(on: eventLoop).map { response in
                    self.storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis)
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

    /// Completes the fill `kind` leads, if any.
    func complete(_ exchange: Exchange, _ kind: FetchKind, with outcome: FillOutcome) {
        guard let token = kind.token else { return }
        coalescer.complete(key: exchange.key, token: token, with: outcome)
    }

    /// After an origin failure while revalidating: the stale entry when stale-if-error allows
    /// (RFC 5861 §4), else the error.
    func staleOrError(_ exchange: Exchange, stored: CacheEntry, error: OriginError) -> ProxyResponse {
        if staleAllowedOnError(stored, exchange: exchange) { return serveStale(exchange, stored: stored, detail: "stale-if-error") }
        return errorResponse(exchange, error: error, collapsed: false)
    }

    func staleAllowedOnError(_ stored: CacheEntry, exchange: Exchange) -> Bool {
        let now = clock.now()
        let timing = stored.timing
        return canServeStaleOnError(
            freshnessLifetimeMillis: timing.freshnessLifetime, currentAgeMillis: timing.currentAge(at: now),
            staleIfErrorMillis: timing.staleIfError, mustRevalidate: timing.mustRevalidate, alwaysRevalidate: timing.alwaysRevalidate,
            request: exchange.directives?.cacheControl ?? CacheControl())
    }

    /// `paca; fwd=stale; ttl=-N; detail=stale-if-error`
    func serveStale(_ exchange: Exchange, stored: CacheEntry, detail: String) -> ProxyResponse {
        statistics.staleServed.increment()
        let now = clock.now()
        let ttl = stored.timing.remainingFreshness(at: now)
        let seconds = ttl >= 0 ? ttl / 1000 : -((-ttl + 999) / 1000)
        return serveStored(
            exchange, entry: stored, ttlMillis: ttl, now: now, outcome: .stale,
            cacheStatus: "paca; fwd=stale; ttl=\(seconds); detail=\(detail)")
    }

    /// A 304 answered a revalidation: update the stored header fields (RFC 9111 §4.3.4), reset
    /// freshness from the 304, keep the body.
    func refreshed(_ exchange: Exchange, stored: CacheEntry, notModified: OriginResponse, kind: FetchKind, originMillis: Double)
        -> ProxyResponse
    {
        // A 304 without Date gets none here, so the freshness below is computed from the
        // response time rather than from the old Date (RFC 9110 §6.6.1); one is added to store.
        var merged = mergeNotModified(
            stored: stored.headers.removing(notModified.headers.contains("date") ? [] : ["date"]),
            notModified: HeaderRules.responseFields(from: notModified.headers, responseTime: notModified.responseTime, addVia: false)
                .removing(notModified.headers.contains("date") ? [] : ["date"]))
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: stored.status, responseHeaders: merged,
            bodyBytes: stored.body.readableBytes, policy: exchange.route.policy, requestTimeMillis: notModified.requestTime,
            responseTimeMillis: notModified.responseTime)
        if !merged.contains("date") {
            merged.append(HTTPField(name: "Date", value: HTTPDate.format(unixSeconds: notModified.responseTime / 1000)))
        }
        var entry = stored
        var storedNow = false
        if case .store(let plan) = decision, !purgedSince(exchange.primaryKey, notModified.requestTime, key: stored.key, fields: merged) {
            entry = CacheEntry(
                key: stored.key, status: stored.status, headers: merged.removing(plan.strippedFieldNames), body: stored.body,
                timing: timing(plan, response: notModified), etag: plan.etag ?? stored.etag,
                lastModified: plan.lastModified ?? stored.lastModified, encryptAtRest: exchange.route.encrypt)
            storedNow = cache.store(entry)
        }
        complete(exchange, kind, with: storedNow ? .stored(entry) : .uncacheable)
        let now = clock.now()
        let ttl = entry.timing.remainingFreshness(at: now)
        let status = CacheStatusField.forward(kind.forward, status: 304, stored: storedNow, ttlSeconds: storedNow ? ttl / 1000 : nil)
        let response = serveStored(exchange, entry: entry, ttlMillis: ttl, now: now, outcome: .revalidated, cacheStatus: status)
        _ = originMillis
        return response
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

    /// The request fields that select a variant of this response: its `Vary` names plus the
    /// route's `key.headers`; `nil` for `Vary: *`.
    func variantNames(responseHeaders: [HTTPField], route: Route) -> [String]? {
        guard var names = varyFieldNames(responseHeaders) else { return nil }
        for name in route.keyedHeaderNames where !names.contains(name) { names.append(name) }
        return names.sorted()
    }

    /// The origin's response fields as the client gets them, with the route's keyed request
    /// fields added to `Vary` (DESIGN.md §3), for the client and every shared cache downstream,
    /// on misses and hits alike.
    func clientResponseFields(_ origin: [HTTPField], responseTime: UnixMillis, route: Route) -> [HTTPField] {
        var clientFields = HeaderRules.responseFields(from: origin, responseTime: responseTime)
        guard !route.keyedHeaderNames.isEmpty else { return clientFields }
        let listed = Set(clientFields.listMembers("vary").map { $0.lowercased() })
        guard !listed.contains("*") else { return clientFields }
        let missing = route.keyedHeaderNames.filter { !listed.contains($0) }
        if !missing.isEmpty {
            let vary = (clientFields.values("vary") + missing).joined(separator: ", ")
            clientFields = clientFields.removing(["vary"]) + [HTTPField(name: "Vary", value: vary)]
        }
        return clientFields
    }

    /// The `detail` and hit-for-miss consequence of a store that did not land in L1.
    private func notStoredDetail(_ outcome: TieredCache.StoreOutcome) -> String? {
        switch outcome {
        case .stored: nil
        case .cold, .refused: "cold"
        case .tooLarge: NotStorableReason.tooLarge.rawValue
        }
    }

    private func storeAndAnswer(_ exchange: Exchange, response: OriginResponse, kind: FetchKind, originMillis: Double) -> ProxyResponse {
        let route = exchange.route
        let clientFields = clientResponseFields(response.headers, responseTime: response.responseTime, route: route)
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: response.status, responseHeaders: response.headers,
            bodyBytes: response.body.readableBytes, policy: route.policy, requestTimeMillis: response.requestTime,
            responseTimeMillis: response.responseTime)

        var headers = HeaderRules.httpHeaders(clientFields)
        var stored = false
        var storedEntry: CacheEntry?
        var detail: String?
        var ttl: Int64?
        // Refused by admission (or purged in flight) is no reason to skip coalescing next time
        // (DESIGN.md §3).
        var admissionOnly = false
        switch decision {
        case .store(let plan):
            let timing = timing(plan, response: response)
            let names = variantNames(responseHeaders: response.headers, route: route) ?? []
            if purgedSince(exchange.primaryKey, response.requestTime, key: storageKey(exchange, varyNames: names), fields: clientFields) {
                // Purged while in flight: not stored, but no reason to stop coalescing later.
                detail = "purged"
                admissionOnly = true
            } else {
                let (entry, outcome) = store(
                    exchange, response: response, fields: clientFields.removing(plan.strippedFieldNames), plan: plan, timing: timing,
                    varyNames: names)
                detail = notStoredDetail(outcome)
                admissionOnly = outcome == .cold || outcome == .refused
                if let entry, outcome.isStored {
                    stored = true
                    storedEntry = entry
                    statistics.stored.increment()
                    complete(exchange, kind, with: .stored(entry))
                }
            }
            let now = clock.now()
            ttl = timing.remainingFreshness(at: now) / 1000
            headers.replaceOrAdd(name: "Age", value: String(timing.currentAge(at: now) / 1000))
        case .doNotStore(let reason):
            detail = reason.rawValue
            if let age = response.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
        }
        if !stored {
            statistics.notStored.increment()
            if !admissionOnly { rememberHitForMiss(exchange.key, now: response.responseTime) }
            complete(exchange, kind, with: .uncacheable)
        } else if kind.hitForMiss {
            forgetHitForMiss(exchange.key)
        }
        if route.cacheStatus {
            let value: String
            if kind.hitForMiss && !stored {
                value = CacheStatusField.bypass(detail: "hit-for-miss", status: response.status)
            } else {
                value = CacheStatusField.forward(
                    kind.forward, status: response.status, stored: stored, ttlSeconds: stored ? ttl : nil, detail: detail)
            }
            headers.add(name: CacheStatusField.name, value: value)
        }
        let outcome: AccessLogRecord.CacheOutcome = kind.stored == nil ? .miss : .revalidated
        let requestHeaders = exchange.request.head.headers
        if let storedEntry,
            requestHeaders.contains(name: "range") || requestHeaders.contains(name: "if-none-match")
                || requestHeaders.contains(name: "if-modified-since")
        {
            // The client's conditionals and Range stayed behind on the fill: answer them from
            // the stored entry, as a hit would (304, 206 or 416).
            let now = clock.now()
            return serveStored(
                exchange, entry: storedEntry, ttlMillis: storedEntry.timing.remainingFreshness(at: now), now: now, outcome: outcome,
                cacheStatus: headers.first(name: CacheStatusField.name) ?? "")
        }
        // The client's own validators were not sent upstream: evaluate them against the fresh
        // answer, as against a stored one (RFC 9110 §13.2.2).
        var status = HTTPResponseStatus(statusCode: response.status)
        if response.status == 200, clientConditionMatches(exchange, headers: response.headers) {
            status = .notModified
        }
        let sentBytes =
            exchange.isHead || status == .notModified || response.status == 204 ? 0 : response.body.readableBytes
        if let accessLog {
            // The key the entry is (or would be) stored under, so a miss and the later hits of
            // one entry log one key, variants included.
            var logged = record(
                exchange, status: Int(status.code), bytes: sentBytes, cache: outcome, ttl: ttl.map { Int($0) }, collapsed: false,
                originMillis: originMillis)
            logged.key = storageKey(exchange, varyNames: variantNames(responseHeaders: response.headers, route: route) ?? [])
            logged.background = kind.background
            accessLog.append(logged)
        }
        return ProxyResponse(
            status: status, headers: headers, body: status == .notModified ? nil : response.body, omitBody: exchange.isHead)
    }

    /// Whether the client's own `If-None-Match`/`If-Modified-Since` match an answer's validators.
    func clientConditionMatches(_ exchange: Exchange, headers: [HTTPField]) -> Bool {
        let requestHeaders = exchange.request.head.headers
        guard requestHeaders.contains(name: "if-none-match") || requestHeaders.contains(name: "if-modified-since") else { return false }
        return shouldAnswerNotModified(
            requestHeaders: exchange.requestFields, etag: headers.first("etag"), lastModified: headers.first("last-modified"),
            date: headers.first("date"))
    }

    /// An answer too large for L1, or of unknown length, passes to the client as it arrives; when
    /// it may be stored, a copy is kept on the way (in memory up to L1's entry limit) and stored
    /// at its end, which is when the requests waiting on this fill get it.
    private func streamAndStore(_ exchange: Exchange, head: OriginStreamingResponse, kind: FetchKind, originMillis: Double)
        -> ProxyResponse
    {
        let route = exchange.route
        let clientFields = clientResponseFields(head.headers, responseTime: head.responseTime, route: route)
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: head.status, responseHeaders: head.headers,
            bodyBytes: head.contentLength ?? 0, policy: route.policy, requestTimeMillis: head.requestTime,
            responseTimeMillis: head.responseTime)
        var headers = HeaderRules.httpHeaders(clientFields)
        var sink: (any BodySink)?
        var detail: String?
        var ttl: Int64?
        var onStored: ((any BodySink) -> Void)?
        var purged = false
        switch decision {
        case .store(let plan):
            let timing = timing(plan, response: head)
            let now = clock.now()
            ttl = timing.remainingFreshness(at: now) / 1000
            headers.replaceOrAdd(name: "Age", value: String(timing.currentAge(at: now) / 1000))
            if purgedSince(
                exchange.primaryKey, head.requestTime,
                key: storageKey(exchange, varyNames: variantNames(responseHeaders: head.headers, route: route) ?? []), fields: clientFields)
            {
                detail = "purged"
                purged = true
            } else if head.contentLength == nil {
                sink = MemorySink(limit: memory.maxEntryBytes, expectedLength: nil)
                let fields = clientFields.removing(plan.strippedFieldNames)
                let names = variantNames(responseHeaders: head.headers, route: route) ?? []
                onStored = { sink in
                    guard let memorySink = sink as? MemorySink,
                        !self.purgedSince(
                            exchange.primaryKey, head.requestTime, key: self.storageKey(exchange, varyNames: names), fields: fields)
                    else {
                        self.complete(exchange, kind, with: .uncacheable)
                        return
                    }
                    let response = OriginResponse(
                        status: head.status, headers: head.headers, body: memorySink.body, requestTime: head.requestTime,
                        responseTime: head.responseTime)
                    let (entry, outcome) = self.store(
                        exchange, response: response, fields: fields, plan: plan, timing: timing, varyNames: names)
                    if let entry, outcome.isStored {
                        self.statistics.stored.increment()
                        self.complete(exchange, kind, with: .stored(entry))
                    } else {
                        self.complete(exchange, kind, with: .uncacheable)
                    }
                }
            } else if let length = head.contentLength, let disk = cache.disk,
                let writer = disk.beginWrite(
                    largeEntryHead(
                        exchange, head: head, fields: clientFields.removing(plan.strippedFieldNames), plan: plan, timing: timing),
                    bodyLength: length, on: head.body.eventLoop)
            {
                // Too large for L1, within L2's entry limit: written to disk as it passes, as
                // nginx caches large files; later hits stream from the file (`detail=l2`).
                sink = DiskSink(writer: writer)
                let names = variantNames(responseHeaders: head.headers, route: route) ?? []
                onStored = { _ in
                    writer.commit().whenSuccess { committed in
                        let key = self.storageKey(exchange, varyNames: names)
                        guard committed, !self.purgedSince(exchange.primaryKey, head.requestTime, key: key, fields: clientFields) else {
                            if committed { self.cache.remove(key) }
                            self.complete(exchange, kind, with: .uncacheable)
                            return
                        }
                        self.noteStorageExpiry(timing.storageExpiry)
                        // An older, smaller copy in L1 would shadow the new file.
                        self.memory.remove(key)
                        if !names.isEmpty {
                            self.updateVaryMarker(exchange, varyNames: names, variantKey: key, expiry: timing.storageExpiry)
                        }
                        self.statistics.stored.increment()
                        self.complete(exchange, kind, with: .storedBelow)
                    }
                }
            } else {
                detail = NotStorableReason.tooLarge.rawValue
            }
        case .doNotStore(let reason):
            detail = reason.rawValue
            if let age = head.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
        }
        if sink == nil {
            statistics.notStored.increment()
            if !purged { rememberHitForMiss(exchange.key, now: head.responseTime) }
            complete(exchange, kind, with: .uncacheable)
        } else if kind.hitForMiss {
            forgetHitForMiss(exchange.key)
        }
        if route.cacheStatus {
            let value: String
            if kind.hitForMiss && sink == nil {
                value = CacheStatusField.bypass(detail: "hit-for-miss", status: head.status)
            } else {
                value = CacheStatusField.forward(
                    kind.forward, status: head.status, stored: sink != nil, ttlSeconds: sink != nil ? ttl : nil, detail: detail)
            }
            headers.add(name: CacheStatusField.name, value: value)
        }
        let hadSink = sink != nil
        let fill = FillBody(source: head.body, sink: sink) { result, sink in
            guard hadSink else { return }
            guard case .success = result, let sink, !sink.failed, let onStored else {
                self.statistics.notStored.increment()
                self.complete(exchange, kind, with: .uncacheable)
                return
            }
            onStored(sink)
        }
        var status = HTTPResponseStatus(statusCode: head.status)
        if head.status == 200, clientConditionMatches(exchange, headers: head.headers) { status = .notModified }
        let outcome: AccessLogRecord.CacheOutcome = kind.stored == nil ? .miss : .revalidated
        let sentBytes = exchange.isHead || status == .notModified || head.status == 204 ? 0 : head.contentLength ?? 0
        if let accessLog {
            var logged = record(
                exchange, status: Int(status.code), bytes: sentBytes, cache: outcome, ttl: ttl.map { Int($0) }, collapsed: false,
                originMillis: originMillis)
            logged.key = storageKey(exchange, varyNames: variantNames(responseHeaders: head.headers, route: route) ?? [])
            logged.background = kind.background
            accessLog.append(logged)
        }
        var response = ProxyResponse(status: status, headers: headers, omitBody: exchange.isHead)
        response.stream = fill
        response.streamLength = head.contentLength
        return response
    }

    /// Puts a storable response into the tiers, under its variant key when it varies (with the
    /// marker at the primary key); says where it went (`nil` entry when L1 refused it outright).
    private func store(
        _ exchange: Exchange, response: OriginResponse, fields: [HTTPField], plan: StoragePlan, timing: EntryTiming, varyNames: [String]
    ) -> (CacheEntry?, TieredCache.StoreOutcome) {
        noteStorageExpiry(timing.storageExpiry)
        if varyNames.isEmpty {
            let entry = CacheEntry(
                key: exchange.primaryKey, status: response.status, headers: fields, body: exactSized(response.body), timing: timing,
                etag: plan.etag, lastModified: plan.lastModified, encryptAtRest: exchange.route.encrypt)
            let outcome = cache.storeOutcome(entry)
            return (outcome == .tooLarge ? nil : entry, outcome)
        }
        let variantKey = CacheEntry.variantKey(
            primaryKey: exchange.primaryKey, secondaryKey: secondaryKey(varyNames: varyNames, requestHeaders: exchange.requestFields))
        let entry = CacheEntry(
            key: variantKey, status: response.status, headers: fields, body: exactSized(response.body), timing: timing,
            etag: plan.etag, lastModified: plan.lastModified, encryptAtRest: exchange.route.encrypt)
        let outcome = cache.storeOutcome(entry)
        guard outcome.isStored else { return (nil, outcome) }
        updateVaryMarker(exchange, varyNames: varyNames, variantKey: variantKey, expiry: timing.storageExpiry)
        return (entry, outcome)
    }

    /// Lists `variantKey` in the vary marker at the primary key (creating it), keeping at most
    /// `maxVariants`: the oldest variant goes first.
    func updateVaryMarker(_ exchange: Exchange, varyNames: [String], variantKey: String, expiry: UnixMillis) {
        var variants: [String] = []
        var expiry = expiry
        if let marker = memory.peek(exchange.primaryKey), marker.isVaryMarker, marker.varyNames == varyNames {
            variants = marker.variantKeys.filter { $0 != variantKey }
            expiry = max(expiry, marker.timing.storageExpiry)
        }
        variants.append(variantKey)
        while variants.count > configuration.maxVariants {
            cache.remove(variants.removeFirst())
        }
        cache.store(
            CacheEntry.varyMarker(
                key: exchange.primaryKey, varyNames: varyNames, variantKeys: variants, expiry: expiry, now: clock.now(),
                encryptAtRest: exchange.route.encrypt))
    }

    /// The key a response is stored under: the primary key, or its variant's key when it varies.
    func storageKey(_ exchange: Exchange, varyNames: [String]) -> String {
        guard !varyNames.isEmpty else { return exchange.primaryKey }
        return CacheEntry.variantKey(
            primaryKey: exchange.primaryKey, secondaryKey: secondaryKey(varyNames: varyNames, requestHeaders: exchange.requestFields))
    }

    /// The entry a large streamed answer is written to L2 under (its body follows in the file).
    private func largeEntryHead(
        _ exchange: Exchange, head: OriginStreamingResponse, fields: [HTTPField], plan: StoragePlan, timing: EntryTiming
    ) -> CacheEntry {
        let names = variantNames(responseHeaders: head.headers, route: exchange.route) ?? []
        return CacheEntry(
            key: storageKey(exchange, varyNames: names), status: head.status, headers: fields, body: ByteBuffer(), timing: timing,
            etag: plan.etag, lastModified: plan.lastModified, encryptAtRest: exchange.route.encrypt)
    }

    /// A body whose buffer is no larger than needed, so L1 counts what it holds (DESIGN.md §3:
    /// copy when capacity exceeds 1.25× the size).
    func exactSized(_ body: ByteBuffer) -> ByteBuffer {
        guard body.capacity > body.readableBytes + body.readableBytes / 4 || body.readerIndex != 0 else { return body }
        var copy = ByteBufferAllocator().buffer(capacity: body.readableBytes)
        copy.writeImmutableBuffer(body)
        return copy
    }

    // MARK: - Pass

    /// Forwards a request that is not served from the cache (unsafe method, `cache: false`,
    /// unkeyed cookie): everything but hop-by-hop fields reaches the origin. A non-error answer
    /// to an unsafe method invalidates what it names (RFC 9111 §4.4).
    func pass(_ exchange: Exchange, reason: PassReason, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        statistics.pass(exchange.route.name)
        let route = exchange.route
        let head = exchange.request.head
        let trusted = trustedProxies.contains(exchange.request.peer)
        var fields = HeaderRules.endToEndRequestFields(head.headers, trustedPeer: trusted)
        fields.append(contentsOf: forwardingFields(exchange))
        if route.preserveHost, let host = head.headers.first(name: "host") { fields.append(HTTPField(name: "Host", value: host)) }
        let request = OriginRequest(
            method: head.method.rawValue,
            url: originURL(route: route, path: exchange.target.path, query: exchange.target.query ?? ""),
            headers: fields,
            upload: head.method == .GET || head.method == .HEAD ? nil : exchange.request.upload,
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.stream(request, on: eventLoop).flatMap { response in
            // As on a fill: a body that breaks before its first byte is a clean 502.
            response.body.firstPartOrEnd.map { response }
        }.map { response -> ProxyResponse in
            let originNanoseconds = (NIODeadline.now() - originStart).nanoseconds
            self.statistics.originAnswered(exchange.route.name, nanoseconds: originNanoseconds)
            let originMillis = Double(originNanoseconds) / 1_000_000
            if case .method = reason {
                self.invalidateAfterUnsafe(exchange, status: response.status, headers: response.headers, now: response.responseTime)
            }
            var headers = HeaderRules.httpHeaders(HeaderRules.responseFields(from: response.headers, responseTime: response.responseTime))
            if let age = response.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
            if route.cacheStatus {
                let value: String
                switch reason {
                case .method: value = CacheStatusField.forward("method", status: response.status)
                case .bypass(let detail): value = CacheStatusField.bypass(detail: detail, status: response.status)
                }
                headers.add(name: CacheStatusField.name, value: value)
            }
            let cache: AccessLogRecord.CacheOutcome
            if case .method = reason { cache = .pass } else { cache = .bypass }
            self.accessLog?.append(
                self.record(
                    exchange, status: response.status, bytes: exchange.isHead ? 0 : response.contentLength ?? 0, cache: cache,
                    ttl: nil, collapsed: false, originMillis: originMillis))
            var answer = ProxyResponse(status: HTTPResponseStatus(statusCode: response.status), headers: headers, omitBody: exchange.isHead)
            answer.stream = response.body
            answer.streamLength = response.contentLength
            return answer
        }.flatMapErrorThrowing { error in
            let originError = error as? OriginError ?? .protocolError("\(error)")
            self.statistics.originFailed(originError)
            return self.errorResponse(exchange, error: originError, collapsed: false)
        }
    }

    // MARK: - Helpers

    /// `origin + base path + path [+ ? query]`.
    func originURL(route: Route, path: String, query: String) -> String {
        var url = route.origin.schemeAndAuthority + route.origin.basePath + path
        if !query.isEmpty {
            url += "?"
            url += query
        }
        return url
    }

    /// What a cacheable request forwards (DESIGN.md §3, "What reaches the origin"). With
    /// `forward: all`, every end-to-end field but the poisoning vectors from untrusted peers; with
    /// `forward: keyed`, the keyed and `forward_headers` fields and `Authorization`. On a fill
    /// (`isFill`) the client's conditionals and `Range` stay behind: paca asks for the whole
    /// representation and answers the client's conditions itself. Then `Host` with
    /// `preserve_host`, `X-Forwarded-For` and `Via`.
    func cacheableRequestFields(_ exchange: Exchange, isFill: Bool) -> [HTTPField] {
        let head = exchange.request.head
        let route = exchange.route
        let trusted = trustedProxies.contains(exchange.request.peer)
        var fields: [HTTPField] = []
        switch route.forward {
        case .all:
            var drop: Set<String> = isFill ? HeaderRules.clientPreconditions : []
            if route.stripCookies, !route.keyedHeaderNames.contains("cookie") { drop.insert("cookie") }
            fields = HeaderRules.endToEndRequestFields(head.headers, trustedPeer: trusted, dropping: drop)
        case .keyed:
            for name in route.keyedHeaderNames where name != "cookie" || !route.stripCookies {
                for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
            }
            for value in head.headers["authorization"] where !route.keyedHeaderNames.contains("authorization") {
                fields.append(HTTPField(name: "Authorization", value: value))
            }
            if trusted {
                for name in ["forwarded", "x-forwarded-host", "x-forwarded-proto"] {
                    for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
                }
            }
            if !isFill {
                for name in HeaderRules.clientPreconditions.sorted() {
                    for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
                }
            }
        }
        if route.preserveHost { fields.append(HTTPField(name: "Host", value: exchange.host)) }
        fields.append(contentsOf: forwardingFields(exchange))
        return fields
    }

    /// `Via` and `X-Forwarded-For`: appended to for trusted peers, replaced for the rest.
    func forwardingFields(_ exchange: Exchange) -> [HTTPField] {
        let head = exchange.request.head
        let peer = exchange.request.peer
        var fields: [HTTPField] = []
        if trustedProxies.contains(peer) {
            let chain = head.headers["x-forwarded-for"].joined(separator: ", ")
            fields.append(HTTPField(name: "X-Forwarded-For", value: chain.isEmpty ? peer : "\(chain), \(peer)"))
        } else if !peer.isEmpty {
            fields.append(HTTPField(name: "X-Forwarded-For", value: peer))
        }
        let via = head.headers["via"].joined(separator: ", ")
        let version = "\(head.version.major).\(head.version.minor)"
        fields.append(HTTPField(name: "Via", value: via.isEmpty ? "\(version) paca" : "\(via), \(version) paca"))
        return fields
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
        accessLog?.append(
            record(exchange, status: Int(status.code), bytes: 0, cache: .miss, ttl: nil, collapsed: collapsed, originMillis: nil))
        return .plain(status, "\(status.code) \(status.reasonPhrase): \(error.message)")
    }
}
