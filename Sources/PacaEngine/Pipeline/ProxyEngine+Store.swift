import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// Storing answers: storability, the copy kept while a body streams, variants and their marker.
extension ProxyEngine {
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

    /// Stores a response read whole when it may be, and answers the client. `partStored`: a 206
    /// whose part was kept apart (`|p`) and is passed on as it came.
    func storeAndAnswer(
        _ exchange: Exchange, response: OriginResponse, kind: FetchKind, originMillis: Double, partStored: Bool = false
    ) -> ProxyResponse {
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
            detail = partStored ? "partial-stored" : reason.rawValue
            if let age = response.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
        }
        if !stored {
            if !partStored { statistics.notStored.increment() }
            if !admissionOnly { rememberHitForMiss(exchange.key, now: response.responseTime) }
            complete(exchange, kind, with: .uncacheable)
        } else if kind.hitForMiss {
            forgetHitForMiss(exchange.key)
        }
        if route.cacheStatus {
            let value: String
            if kind.hitForMiss && !stored && !partStored {
                value = CacheStatusField.bypass(detail: "hit-for-miss", status: response.status)
            } else {
                value = CacheStatusField.forward(
                    kind.forward, status: response.status, stored: stored, ttlSeconds: stored ? ttl : nil, detail: detail)
            }
            headers.add(name: CacheStatusField.name, value: value)
        }
        let outcome: AccessLogRecord.CacheOutcome = kind.stored == nil ? .miss : .revalidated
        if let storedEntry,
            !exchange.present.isDisjoint(with: [.range, .ifNoneMatch, .ifModifiedSince])
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
        if let accessLog, !exchange.warming {
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
        guard !exchange.present.isDisjoint(with: .conditional) else { return false }
        return shouldAnswerNotModified(
            requestHeaders: exchange.requestFields, etag: headers.first("etag"), lastModified: headers.first("last-modified"),
            date: headers.first("date"))
    }

    /// An answer too large for L1, or of unknown length, passes to the client as it arrives; when
    /// it may be stored, a copy is kept on the way (in memory up to L1's entry limit) and stored
    /// at its end, which is when the requests waiting on this fill get it.
    func streamAndStore(_ exchange: Exchange, head: OriginStreamingResponse, kind: FetchKind, originMillis: Double)
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
        if let accessLog, !exchange.warming {
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
    func store(
        _ exchange: Exchange, response: OriginResponse, fields: [HTTPField], plan: StoragePlan, timing: EntryTiming, varyNames: [String]
    ) -> (CacheEntry?, TieredCache.StoreOutcome) {
        noteStorageExpiry(timing.storageExpiry)
        // A complete answer makes any 206 parts kept for the URL redundant (RFC 9111 §3.4).
        _ = memory.remove(CacheEntry.partialKey(primaryKey: exchange.primaryKey))
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
}
