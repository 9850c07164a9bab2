import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// Requests that are not served from the cache.
extension ProxyEngine {
    // MARK: - Pass

    /// Forwards a request that is not served from the cache (unsafe or extension method,
    /// `cache: false`, unkeyed cookie, HEAD without `convert_head`): everything but hop-by-hop
    /// fields reaches the origin. A non-error answer to an unsafe method invalidates what it
    /// names (RFC 9111 §4.4); a HEAD answer updates or invalidates the stored GET (§4.3.5); with
    /// `store_post_responses`, a POST answer that names its own target is stored for GETs
    /// (RFC 9110 §9.3.3).
    func pass(_ exchange: Exchange, reason: PassReason, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        statistics.pass(self.routeCounters(exchange))
        let route = exchange.route
        let head = exchange.request.head
        let trusted = trustedProxies.contains(exchange.request.peer)
        var fields = HeaderRules.endToEndRequestFields(head.headers, trustedPeer: trusted)
        fields.append(contentsOf: forwardingFields(exchange))
        if route.preserveHost, let host = head.headers.first(name: "host") { fields.append(HTTPField(name: "Host", value: host)) }
        let request = OriginRequest(
            method: head.method.wireName,
            url: originURL(route: route, path: exchange.target.path, query: exchange.target.query ?? ""),
            headers: fields,
            upload: head.method.isGET || head.method.isHEAD ? nil : exchange.request.upload,
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes,
            onInterim: exchange.request.interim)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.stream(request, on: eventLoop).flatMap { response in
            // As on a fill: a body that breaks before its first byte is a clean 502.
            response.body.firstPartOrEnd.map { response }
        }.flatMap { response -> EventLoopFuture<ProxyResponse> in
            let originNanoseconds = (NIODeadline.now() - originStart).nanoseconds
            self.statistics.originAnswered(self.routeCounters(exchange), nanoseconds: originNanoseconds)
            let originMillis = Double(originNanoseconds) / 1_000_000
            let storesPost = self.postAnswerIsStored(exchange, reason: reason, response: response)
            if case .method = reason {
                // A POST answer stored for its own target must not fall to the ban it makes.
                self.invalidateAfterUnsafe(
                    exchange, status: response.status, headers: response.headers, now: response.responseTime,
                    targetBannedAt: storesPost ? response.requestTime - 1 : nil)
            }
            if exchange.headUpdatesStored {
                self.applyHeadAnswer(
                    exchange, status: response.status, headers: response.headers, requestTime: response.requestTime,
                    responseTime: response.responseTime)
            }
            if storesPost {
                return response.collect(on: eventLoop).map { whole in
                    self.storePostAnswer(exchange, response: whole, originMillis: originMillis)
                }
            }
            return eventLoop.makeSucceededFuture(self.passAnswer(exchange, response: response, reason: reason, originMillis: originMillis))
        }.flatMapErrorThrowing { error in
            let originError = error as? OriginError ?? .protocolError("\(error)")
            self.statistics.originFailed(originError)
            return self.errorResponse(exchange, error: originError, collapsed: false)
        }
    }

    /// The origin's answer as the client gets it, its body streaming through.
    func passAnswer(
        _ exchange: Exchange, response: OriginStreamingResponse, reason: PassReason, originMillis: Double, cacheStatus: String? = nil
    ) -> ProxyResponse {
        var headers = HeaderRules.httpHeaders(HeaderRules.responseFields(from: response.headers, responseTime: response.responseTime))
        if let age = response.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
        if exchange.route.cacheStatus {
            let value: String
            switch reason {
            case .method: value = cacheStatus ?? CacheStatusField.forward("method", status: response.status)
            case .bypass(let detail): value = cacheStatus ?? CacheStatusField.bypass(detail: detail, status: response.status)
            }
            headers.add(name: CacheStatusField.name, value: value)
        }
        let cache: AccessLogRecord.CacheOutcome
        switch reason {
        case .method: cache = .pass
        case .bypass: cache = cacheStatus == nil ? .bypass : .miss
        }
        if !exchange.warming {
            accessLog?.append(
                record(
                    exchange, status: response.status, bytes: exchange.isHead ? 0 : response.contentLength ?? 0, cache: cache,
                    ttl: nil, collapsed: false, originMillis: originMillis))
        }
        var answer = ProxyResponse(status: HTTPResponseStatus(statusCode: response.status), headers: headers, omitBody: exchange.isHead)
        answer.stream = response.body
        answer.streamLength = response.contentLength
        return answer
    }

    // MARK: - HEAD answers (RFC 9111 §4.3.5)

    /// Applies a HEAD answer to the stored GET this request would have selected in L1: updates
    /// its fields and freshness, marks it stale, or (404, 410) removes the URL's entries.
    func applyHeadAnswer(_ exchange: Exchange, status: Int, headers: [HTTPField], requestTime: UnixMillis, responseTime: UnixMillis) {
        var exchange = exchange
        let now = clock.now()
        var stored: CacheEntry?
        if case .found(let entry) = lookup(&exchange, now: now) { stored = entry }
        let effect = headResponseEffect(
            status: status, headFields: headers, storedStatus: stored?.status ?? 200, storedETag: stored?.etag,
            storedLastModified: stored?.lastModified, storedContentLength: stored?.body.readableBytes)
        switch effect {
        case .update:
            guard let stored else { return }
            let update = OriginResponse(
                status: status, headers: headers, body: ByteBuffer(), requestTime: requestTime, responseTime: responseTime)
            if let entry = freshened(exchange, stored: stored, update: update) { storeFreshened(exchange, entry: entry, replacing: stored) }
        case .markStale:
            guard let stored else { return }
            _ = cache.store(stored.markedStale(at: now))
        case .remove:
            removeGone(exchange, at: responseTime)
        case .unchanged:
            break
        }
    }

    /// The URL answers 404 or 410 now: its stored entries go, and no fill sent earlier lands.
    func removeGone(_ exchange: Exchange, at time: UnixMillis) {
        cache.removeFamily(exchange.primaryKey)
        rememberPurge(exchange.primaryKey, at: time)
        statistics.invalidations.increment()
    }

    // MARK: - POST answers stored for GET (RFC 9110 §9.3.3)

    /// Whether this pass is a POST whose answer the route stores for later GETs of its target:
    /// `store_post_responses` on a caching route, no unkeyed cookie, a 200/203 with explicit
    /// freshness and `Content-Location` equal to the target, and a length L1 can hold whole.
    func postAnswerIsStored(_ exchange: Exchange, reason: PassReason, response: OriginStreamingResponse) -> Bool {
        let route = exchange.route
        let head = exchange.request.head
        guard case .method = reason, head.method.isPOST, route.storePostResponses, route.cache else { return false }
        if head.headers.contains(name: "cookie"), !route.stripCookies, !route.keyedHeaderNames.contains("cookie") { return false }
        guard let length = response.contentLength, length <= memory.maxEntryBytes else { return false }
        var target = exchange.target.path
        if let query = exchange.target.query, !query.isEmpty { target += "?" + query }
        return postResponseReusableForGet(
            requestTarget: target, requestAuthority: head.headers.first(name: "host") ?? "", status: response.status,
            responseHeaders: response.headers, cacheControlTargets: route.policy.cacheControlTargets)
    }

    /// Stores a POST answer under its target's key when the ordinary rules allow, and answers.
    func storePostAnswer(_ exchange: Exchange, response: OriginResponse, originMillis: Double) -> ProxyResponse {
        var exchange = exchange
        assignKey(&exchange)
        let route = exchange.route
        let clientFields = clientResponseFields(response.headers, responseTime: response.responseTime, route: route)
        let decision = evaluateStorability(
            method: "GET", requestHeaders: exchange.requestFields, status: response.status, responseHeaders: response.headers,
            bodyBytes: response.body.readableBytes, policy: route.policy, requestTimeMillis: response.requestTime,
            responseTimeMillis: response.responseTime)
        var stored = false
        var detail: String?
        var ttl: Int64?
        var headers = HeaderRules.httpHeaders(clientFields)
        switch decision {
        case .store(let plan):
            let timing = timing(plan, response: response)
            let names = variantNames(responseHeaders: response.headers, route: route) ?? []
            let (entry, outcome) = store(
                exchange, response: response, fields: clientFields.removing(plan.strippedFieldNames), plan: plan, timing: timing,
                varyNames: names)
            stored = entry != nil && outcome.isStored
            if stored { statistics.stored.increment() }
            ttl = timing.remainingFreshness(at: clock.now()) / 1000
            headers.replaceOrAdd(name: "Age", value: String(timing.currentAge(at: clock.now()) / 1000))
        case .doNotStore(let reason):
            detail = reason.rawValue
            if let age = response.headers.first("age") { headers.replaceOrAdd(name: "Age", value: age) }
        }
        if route.cacheStatus {
            headers.add(
                name: CacheStatusField.name,
                value: CacheStatusField.forward(
                    "method", status: response.status, stored: stored, ttlSeconds: stored ? ttl : nil, detail: detail))
        }
        if !exchange.warming {
            accessLog?.append(
                record(
                    exchange, status: response.status, bytes: response.body.readableBytes, cache: .pass, ttl: ttl.map { Int($0) },
                    collapsed: false, originMillis: originMillis))
        }
        return ProxyResponse(status: HTTPResponseStatus(statusCode: response.status), headers: headers, body: response.body)
    }
}
