import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// Partial content (RFC 9111 §3.3–3.4, RFC 9110 §14): `multipart/byteranges` bodies, and the 206
/// parts kept per URL under `primaryKey|p` (L1 only), combined under one strong validator,
/// answering later `Range` requests they cover, and turned into a complete 200 entry once they
/// cover the whole representation.
extension ProxyEngine {
    // MARK: - 206 bodies

    /// A 206 body for `ranges` of a representation `completeLength` long: the bytes of a single
    /// range with its `Content-Range`, or `multipart/byteranges` (RFC 9110 §14.6) for several,
    /// whose `Content-Type` replaces the representation's. `slice` gives a range's bytes.
    static func partialContent(
        _ ranges: [ClosedRange<Int>], completeLength: Int, contentType: String?, slice: (ClosedRange<Int>) -> ByteBuffer
    ) -> (body: ByteBuffer, fields: [(String, String)], replacesContentType: Bool) {
        if ranges.count == 1 {
            let range = ranges[0]
            return (slice(range), [("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound)/\(completeLength)")], false)
        }
        let framing = MultipartByteranges(
            boundary: MultipartByteranges.boundary(random: .random(in: .min ... .max)), partContentType: contentType,
            completeLength: completeLength, ranges: ranges)
        var body = ByteBufferAllocator().buffer(capacity: framing.contentLength)
        for (index, range) in ranges.enumerated() {
            body.writeString(framing.partHeader(index))
            var part = slice(range)
            body.writeBuffer(&part)
        }
        body.writeString(framing.closingDelimiter)
        return (body, [("Content-Type", framing.contentType)], true)
    }

    /// `fields` encoded as a hit writes them, less `excluded` (lower-cased names) and the
    /// withheld fields.
    static func headerBlock(_ fields: [HTTPField], excluding excluded: Set<String>) -> ByteBuffer {
        var block = ByteBufferAllocator().buffer(capacity: 256)
        for field in fields where !CacheEntry.isWithheld(field.name) && !excluded.contains(field.name.lowercased()) {
            block.writeString(field.name)
            block.writeStaticString(": ")
            block.writeString(field.value)
            block.writeStaticString("\r\n")
        }
        return block
    }

    // MARK: - Serving from parts

    /// Answers a GET `Range` request from the parts kept for its URL when they are fresh and
    /// cover every requested range (206), or when no range can be satisfied (416); `nil` when the
    /// origin must be asked. Requests with their own `If-None-Match`/`If-Modified-Since` go to
    /// the origin path, which answers them against a complete representation.
    func serveFromParts(_ exchange: Exchange, now: UnixMillis) -> ProxyResponse? {
        let requestHeaders = exchange.request.head.headers
        guard exchange.request.head.method.isGET, exchange.present.contains(.range), exchange.present.isDisjoint(with: .conditional),
            let entry = memory.peek(CacheEntry.partialKey(primaryKey: exchange.primaryKey)), let parts = entry.storedParts,
            case .fresh(let remaining) = lookupDecision(entry: entry, exchange: exchange, now: now)
        else { return nil }
        let result = evaluatePartialRange(
            requestHeaders.first(name: "range"), ifRange: requestHeaders.first(name: "if-range"), parts: parts,
            lastModified: entry.lastModified)
        guard result != .notCovered else { return nil }
        _ = memory.get(entry.key, now: now)  // counts the use for eviction
        statistics.hit(self.routeCounters(exchange), tier: "l1")
        return answerFromParts(exchange, entry: entry, parts: parts, result: result, ttlMillis: remaining, now: now, outcome: .hit)
    }

    /// The 206 (or 416) for `result`, with the most recent part's fields, `Age` and
    /// `Cache-Status` (a hit with `detail=partial`, or `cacheStatus`).
    func answerFromParts(
        _ exchange: Exchange, entry: CacheEntry, parts: StoredParts, result: PartialRangeResult, ttlMillis: Int64, now: UnixMillis,
        outcome: AccessLogRecord.CacheOutcome, cacheStatus: String? = nil
    ) -> ProxyResponse {
        let ttl = ttlMillis >= 0 ? ttlMillis / 1000 : -((-ttlMillis + 999) / 1000)
        var status = HTTPResponseStatus.partialContent
        var headers = HTTPHeaders()
        var body: ByteBuffer?
        var excluded: Set<String> = []
        switch result {
        case .serve(let ranges):
            let content = Self.partialContent(
                ranges, completeLength: parts.completeLength, contentType: entry.headers.first("content-type")
            ) { range in ByteBuffer(bytes: parts.bytes(in: range) ?? []) }
            body = content.body
            for (name, value) in content.fields { headers.add(name: name, value: value) }
            if content.replacesContentType { excluded.insert("content-type") }
        case .unsatisfiable, .notCovered:
            status = .rangeNotSatisfiable
            headers.add(name: "Content-Range", value: "bytes */\(parts.completeLength)")
        }
        if let accessLog, !exchange.warming {
            var logged = record(
                exchange, status: Int(status.code), bytes: body?.readableBytes ?? 0, cache: outcome, tier: outcome == .hit ? "l1" : "",
                ttl: Int(ttl), collapsed: false, originMillis: nil)
            logged.key = entry.key
            accessLog.append(logged)
        }
        var response = ProxyResponse(
            status: status, headerBlock: Self.headerBlock(entry.headers, excluding: excluded), headers: headers, body: body)
        response.age = entry.timing.currentAge(at: now) / 1000
        if exchange.route.cacheStatus {
            response.cacheStatus = .text(cacheStatus ?? "paca; hit; ttl=\(ttl); detail=partial")
        }
        return response
    }

    // MARK: - Storing parts

    /// A 206 from the origin (read whole): kept with the other parts of its representation when
    /// it may be (RFC 9111 §3.3: storable as its 200 would be, a strong `ETag`, a known complete
    /// length, no `Vary`), combined with them (§3.4), and stored as a complete 200 once they
    /// cover the whole. The client gets its range from what is now stored when that covers it,
    /// else the origin's answer as it came. While only parts are kept the key stays
    /// hit-for-miss, so the next uncovered `Range` goes to the origin as sent and its 206 joins
    /// the parts.
    func storePartAndAnswer(_ exchange: Exchange, response: OriginResponse, kind: FetchKind, originMillis: Double) -> ProxyResponse {
        let route = exchange.route
        let partialKey = CacheEntry.partialKey(primaryKey: exchange.primaryKey)
        let clientFields = clientResponseFields(response.headers, responseTime: response.responseTime, route: route)
        let contentRange = response.headers.first("content-range")
        let completeLength = contentRange.flatMap(ContentRange.init(parsing:))?.completeLength
        // The part's storability is its representation's: the 200 the parts will make.
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: 200, responseHeaders: response.headers,
            bodyBytes: completeLength ?? response.body.readableBytes, policy: route.policy, requestTimeMillis: response.requestTime,
            responseTimeMillis: response.responseTime)
        guard case .store(let plan) = decision, variantNames(responseHeaders: response.headers, route: route) == [],
            completeLength.map({ $0 <= memory.maxEntryBytes }) ?? false,
            !purgedSince(exchange.primaryKey, response.requestTime, key: partialKey, fields: clientFields)
        else { return storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis) }
        let stored = memory.peek(partialKey)?.storedParts
        let combination = combinePart(
            contentRange: contentRange, etag: plan.etag, body: Array(response.body.readableBytesView), into: stored)
        let timing = timing(plan, response: response)
        let fields = clientFields.removing(plan.strippedFieldNames)
        let now = clock.now()
        let ttl = timing.remainingFreshness(at: now)
        let requestHeaders = exchange.request.head.headers
        let outcome: AccessLogRecord.CacheOutcome = kind.stored == nil ? .miss : .revalidated
        switch combination {
        case .notStorable:
            return storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis)
        case .complete(let parts):
            // RFC 9111 §3.4: the combined response carries the most recent part's fields.
            var body = ByteBufferAllocator().buffer(capacity: parts.completeLength)
            body.writeBytes(parts.segments[0].bytes)
            let whole = OriginResponse(
                status: 200, headers: response.headers, body: body, requestTime: response.requestTime, responseTime: response.responseTime)
            _ = memory.remove(partialKey)
            let (entry, storeOutcome) = store(
                exchange, response: whole, fields: fields.removing(["content-range"]), plan: plan, timing: timing, varyNames: [])
            guard let entry, storeOutcome.isStored else {
                return storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis)
            }
            statistics.stored.increment()
            forgetHitForMiss(exchange.key)
            complete(exchange, kind, with: .stored(entry))
            return serveStored(
                exchange, entry: entry, ttlMillis: ttl, now: now, outcome: outcome,
                cacheStatus: CacheStatusField.forward(
                    kind.forward, status: 206, stored: true, ttlSeconds: ttl / 1000, detail: "partial-complete"))
        case .partial(let parts):
            let entry = CacheEntry.partial(
                key: partialKey, parts: parts, headers: fields, timing: timing, lastModified: plan.lastModified)
            guard memory.set(entry) else { return storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis) }
            noteStorageExpiry(timing.storageExpiry)
            statistics.stored.increment()
            rememberHitForMiss(exchange.key, now: response.responseTime)
            let result = evaluatePartialRange(
                requestHeaders.first(name: "range"), ifRange: requestHeaders.first(name: "if-range"), parts: parts,
                lastModified: plan.lastModified)
            guard exchange.request.head.method.isGET, case .serve = result,
                exchange.present.isDisjoint(with: .conditional)
            else {
                // Not the client's range (or not a Range request): the origin's answer as it came.
                return storeAndAnswer(exchange, response: response, kind: kind, originMillis: originMillis, partStored: true)
            }
            complete(exchange, kind, with: .uncacheable)
            return answerFromParts(
                exchange, entry: entry, parts: parts, result: result, ttlMillis: ttl, now: now, outcome: outcome,
                cacheStatus: CacheStatusField.forward(kind.forward, status: 206, stored: true, ttlSeconds: ttl / 1000, detail: "partial"))
        }
    }
}
