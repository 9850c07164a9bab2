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

    // MARK: - Miss

    /// A cacheable request that found nothing usable: join or lead the fill for its key.
    func miss(_ exchange: Exchange, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        switch coalescer.join(key: exchange.key, on: eventLoop) {
        case .leader:
            return fetchAndStore(exchange, on: eventLoop, leading: true)
        case .alone:
            return fetchAndStore(exchange, on: eventLoop, leading: false)
        case .follower(let outcome):
            statistics.collapsed.increment()
            return outcome.flatMap { outcome in
                switch outcome {
                case .stored(let entry):
                    return eventLoop.makeSucceededFuture(self.collapsedResponse(exchange, entry: entry))
                case .uncacheable:
                    // Not shareable (private, Set-Cookie, …): this request asks for itself.
                    return self.fetchAndStore(exchange, on: eventLoop, leading: false)
                case .failed(let error):
                    return eventLoop.makeSucceededFuture(self.errorResponse(exchange, error: error, collapsed: true))
                }
            }
        }
    }

    /// The answer for a request that waited on another's fill.
    func collapsedResponse(_ exchange: Exchange, entry: CacheEntry) -> ProxyResponse {
        let now = clock.now()
        var headers = HTTPHeaders()
        headers.add(name: "Age", value: String(entry.timing.currentAge(at: now) / 1000))
        let ttl = entry.timing.remainingFreshness(at: now) / 1000
        if exchange.route.cacheStatus {
            headers.add(
                name: CacheStatusField.name,
                value: CacheStatusField.forward("uri-miss", status: entry.status, collapsed: true, ttlSeconds: ttl))
        }
        accessLog?.append(
            record(exchange, status: entry.status, bytes: exchange.isHead ? 0 : entry.body.readableBytes, cache: .miss, ttl: Int(ttl),
                   collapsed: true, originMillis: nil))
        return ProxyResponse(
            status: HTTPResponseStatus(statusCode: entry.status), headerBlock: entry.headerBlock, headers: headers, body: entry.body,
            omitBody: exchange.isHead)
    }

    /// Fetches the keyed request from the origin, stores the answer when allowed, and answers.
    /// A leader completes the fill for its key in every case, so no waiter is left behind.
    func fetchAndStore(_ exchange: Exchange, on eventLoop: any EventLoop, leading: Bool) -> EventLoopFuture<ProxyResponse> {
        let route = exchange.route
        let request = OriginRequest(
            method: "GET",
            url: originURL(route: route, path: exchange.target.path, query: exchange.keyedQuery),
            headers: cacheableRequestFields(exchange),
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.fetch(request, on: eventLoop).map { response -> ProxyResponse in
            let originMillis = Double((NIODeadline.now() - originStart).nanoseconds) / 1_000_000
            return self.storeAndAnswer(exchange, response: response, leading: leading, originMillis: originMillis)
        }.flatMapErrorThrowing { error in
            let originError = error as? OriginError ?? .protocolError("\(error)")
            self.statistics.originErrors.increment()
            if leading { self.coalescer.complete(key: exchange.key, with: .failed(originError)) }
            return self.errorResponse(exchange, error: originError, collapsed: false)
        }
    }

    private func storeAndAnswer(_ exchange: Exchange, response: OriginResponse, leading: Bool, originMillis: Double) -> ProxyResponse {
        let route = exchange.route
        let clientFields = HeaderRules.responseFields(from: response.headers, responseTime: response.responseTime)
        let requestFields = exchange.request.head.headers.map { HTTPField(name: $0.name, value: $0.value) }
        let decision = evaluateStorability(
            method: "GET", requestHeaders: requestFields, status: response.status, responseHeaders: response.headers,
            bodyBytes: response.body.readableBytes, policy: route.policy, requestTimeMillis: response.requestTime,
            responseTimeMillis: response.responseTime)

        var headers = HeaderRules.httpHeaders(clientFields)
        var stored = false
        var detail: String?
        var ttl: Int64?
        var bodyBytes = exchange.isHead ? 0 : response.body.readableBytes
        switch decision {
        case .store(let plan):
            let timing = EntryTiming(
                requestTime: response.requestTime, responseTime: response.responseTime,
                correctedInitialAge: plan.correctedInitialAgeMillis, freshnessLifetime: plan.freshnessLifetimeMillis,
                staleWhileRevalidate: plan.staleWhileRevalidateMillis, staleIfError: plan.staleIfErrorMillis,
                mustRevalidate: plan.mustRevalidate, alwaysRevalidate: plan.alwaysRevalidate,
                storageExpiry: response.responseTime + plan.storageLifetimeMillis)
            let entry = CacheEntry(
                key: exchange.key, status: response.status, headers: clientFields.removing(plan.strippedFieldNames),
                body: exactSized(response.body), timing: timing, etag: plan.etag, lastModified: plan.lastModified)
            if memory.set(entry) {
                stored = true
                statistics.stored.increment()
                if leading { coalescer.complete(key: exchange.key, with: .stored(entry)) }
            } else {
                detail = NotStorableReason.tooLarge.rawValue
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
            if leading { coalescer.complete(key: exchange.key, with: .uncacheable) }
        }
        if route.cacheStatus {
            headers.add(
                name: CacheStatusField.name,
                value: CacheStatusField.forward("uri-miss", status: response.status, stored: stored, ttlSeconds: stored ? ttl : nil, detail: detail))
        }
        if response.status == 304 || response.status == 204 || response.status < 200 { bodyBytes = 0 }
        accessLog?.append(
            record(exchange, status: response.status, bytes: bodyBytes, cache: .miss, ttl: ttl.map { Int($0) }, collapsed: false,
                   originMillis: originMillis))
        return ProxyResponse(
            status: HTTPResponseStatus(statusCode: response.status), headers: headers, body: response.body, omitBody: exchange.isHead)
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
    /// unkeyed cookie): everything but hop-by-hop fields reaches the origin.
    func pass(_ exchange: Exchange, reason: PassReason, on eventLoop: any EventLoop) -> EventLoopFuture<ProxyResponse> {
        statistics.passes.increment()
        let route = exchange.route
        let head = exchange.request.head
        var fields = HeaderRules.passThroughRequestFields(head.headers)
        fields.append(contentsOf: forwardingFields(exchange))
        if route.preserveHost, let host = head.headers.first(name: "host") { fields.append(HTTPField(name: "Host", value: host)) }
        let request = OriginRequest(
            method: head.method.rawValue,
            url: originURL(route: route, path: exchange.target.path, query: exchange.target.query ?? ""),
            headers: fields,
            body: exchange.request.body,
            connectTimeout: route.connectTimeout,
            totalTimeout: route.timeout,
            maxResponseBytes: route.policy.maxBodyBytes)
        statistics.originFetches.increment()
        let originStart = NIODeadline.now()
        return origin.fetch(request, on: eventLoop).map { response -> ProxyResponse in
            let originMillis = Double((NIODeadline.now() - originStart).nanoseconds) / 1_000_000
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
                self.record(exchange, status: response.status, bytes: exchange.isHead ? 0 : response.body.readableBytes, cache: cache,
                            ttl: nil, collapsed: false, originMillis: originMillis))
            return ProxyResponse(
                status: HTTPResponseStatus(statusCode: response.status), headers: headers, body: response.body, omitBody: exchange.isHead)
        }.flatMapErrorThrowing { error in
            self.statistics.originErrors.increment()
            return self.errorResponse(exchange, error: error as? OriginError ?? .protocolError("\(error)"), collapsed: false)
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

    /// What a cacheable request forwards (DESIGN.md §3, "no cache poisoning"): the keyed and
    /// forwarded headers, `Authorization`, and the forwarding fields.
    func cacheableRequestFields(_ exchange: Exchange) -> [HTTPField] {
        let head = exchange.request.head
        var fields: [HTTPField] = []
        for name in exchange.route.keyedHeaderNames where name != "cookie" || !exchange.route.stripCookies {
            for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
        }
        for value in head.headers["authorization"] { fields.append(HTTPField(name: "Authorization", value: value)) }
        if exchange.route.preserveHost { fields.append(HTTPField(name: "Host", value: exchange.host)) }
        fields.append(contentsOf: forwardingFields(exchange))
        return fields
    }

    /// `Via` and `X-Forwarded-For`: appended to for trusted peers, replaced for the rest.
    func forwardingFields(_ exchange: Exchange) -> [HTTPField] {
        let head = exchange.request.head
        let peer = exchange.request.peer
        var fields: [HTTPField] = []
        if configuration.trustedProxies.contains(peer) {
            let chain = head.headers["x-forwarded-for"].joined(separator: ", ")
            fields.append(HTTPField(name: "X-Forwarded-For", value: chain.isEmpty ? peer : "\(chain), \(peer)"))
            for name in ["forwarded", "x-forwarded-host", "x-forwarded-proto"] {
                for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
            }
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
