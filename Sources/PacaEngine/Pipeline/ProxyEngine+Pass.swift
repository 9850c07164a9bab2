import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// Requests that are not served from the cache.
extension ProxyEngine {
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
}
