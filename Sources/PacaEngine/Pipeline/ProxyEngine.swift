public import Logging
public import NIOCore
import NIOHTTP1
public import PacaAccessLog
public import PacaCore
import PacaHTTPCaching
public import PacaStorage

/// The request pipeline (DESIGN.md §2): route → key → L1 lookup → fresh hit written back in the
/// same turn of the event loop, or a coalesced fetch through the origin client, stored when
/// RFC 9111 allows. Knows no sockets, curl or hiredis.
public final class ProxyEngine: ProxyResponder {
    /// What the engine needs beyond its collaborators.
    public struct Configuration: Sendable {
        /// The routes, in order.
        public var routes: RouteTable
        /// Peers whose `X-Forwarded-For` is extended rather than replaced. Default none.
        public var trustedProxies: Set<String>
        /// Largest request body forwarded. Default 10 MiB.
        public var maxRequestBodyBytes: Int

        /// Creates a configuration.
        public init(routes: RouteTable, trustedProxies: Set<String> = [], maxRequestBodyBytes: Int = 10 << 20) {
            self.routes = routes
            self.trustedProxies = trustedProxies
            self.maxRequestBodyBytes = maxRequestBodyBytes
        }
    }

    /// What a fill hands to the requests that waited on it.
    enum FillOutcome: Sendable {
        /// Stored: serve this entry.
        case stored(CacheEntry)
        /// The answer may not be shared: fetch on your own.
        case uncacheable
        /// The origin failed: answer with this error.
        case failed(OriginError)
    }

    let configuration: Configuration
    let memory: MemoryCache
    let origin: any OriginClient
    let clock: any WallClock
    let accessLog: AccessLogWriter?
    let logger: Logger
    let coalescer = RequestCoalescer<FillOutcome>()
    /// Counters for stats and tests.
    public let statistics = EngineStatistics()

    /// Creates the engine.
    public init(
        configuration: Configuration,
        memory: MemoryCache,
        origin: any OriginClient,
        clock: any WallClock = SystemWallClock(),
        accessLog: AccessLogWriter? = nil,
        logger: Logger = Logger(label: "paca.engine")
    ) {
        self.configuration = configuration
        self.memory = memory
        self.origin = origin
        self.clock = clock
        self.accessLog = accessLog
        self.logger = logger
    }

    /// Everything the later stages need to know about one request.
    struct Exchange {
        let request: ProxyRequest
        let route: Route
        let target: RequestTarget
        let startTime: UnixMillis
        let startUptime: NIODeadline
        var key: String = ""
        var keyedQuery: String = ""
        var host: String = ""
        var isHead: Bool { request.head.method == .HEAD }
    }

    /// Answers `request`; a fresh L1 hit is answered immediately, on the caller's event loop.
    public func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        statistics.requests.increment()
        let now = clock.now()
        let startUptime = NIODeadline.now()
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(request.head.uri)
        } catch {
            return .immediate(.plain(.badRequest, "bad request target", close: true))
        }
        guard let route = configuration.routes.route(for: target.path) else {
            let response = ProxyResponse.plain(.notFound, "no route for \(target.path)")
            logLocal(request, status: 404, route: "", start: now, uptime: startUptime)
            return .immediate(response)
        }
        let method = request.head.method
        if let methods = route.methods, !methods.contains(method.rawValue) {
            var response = ProxyResponse.plain(.methodNotAllowed, "method \(method.rawValue) not allowed on route \(route.name)")
            response.headers.add(name: "Allow", value: methods.sorted().joined(separator: ", "))
            logLocal(request, status: 405, route: route.name, start: now, uptime: startUptime)
            return .immediate(response)
        }
        var exchange = Exchange(request: request, route: route, target: target, startTime: now, startUptime: startUptime)
        guard method == .GET || method == .HEAD else {
            return .deferred(pass(exchange, reason: .method, on: eventLoop))
        }
        guard route.cache else {
            return .deferred(pass(exchange, reason: .bypass("route"), on: eventLoop))
        }
        if request.head.headers.contains(name: "cookie"), !route.stripCookies, !route.keyedHeaderNames.contains("cookie") {
            return .deferred(pass(exchange, reason: .bypass("cookie"), on: eventLoop))
        }

        exchange.host = route.preserveHost
            ? (request.head.headers.first(name: "host")?.lowercased() ?? route.origin.authority) : route.origin.authority
        exchange.keyedQuery = CacheKeyBuilder.keyedQuery(target.query, rule: route.keyQuery)
        exchange.key = CacheKeyBuilder.key(
            route: route, host: exchange.host, path: target.path, keyedQuery: exchange.keyedQuery, headers: request.head.headers)

        let directives = request.head.headers.contains(name: "cache-control") || request.head.headers.contains(name: "pragma")
            ? RequestDirectives(headers: request.head.headers.map { HTTPField(name: $0.name, value: $0.value) }) : nil

        if let entry = memory.get(exchange.key, now: now) {
            let decision = lookupDecision(entry: entry, directives: directives, route: route, now: now)
            if case .fresh(let remaining) = decision {
                statistics.hits.increment()
                return .immediate(hitResponse(exchange, entry: entry, remainingMillis: remaining, now: now))
            }
        }
        if directives?.onlyIfCached == true {
            logLocal(request, status: 504, route: route.name, start: now, uptime: startUptime)
            return .immediate(.plain(.gatewayTimeout, "only-if-cached: no fresh stored response"))
        }
        statistics.misses.increment()
        return .deferred(miss(exchange, on: eventLoop))
    }

    /// Whether `entry` may answer now; only a fresh answer is served without the origin.
    func lookupDecision(entry: CacheEntry, directives: RequestDirectives?, route: Route, now: UnixMillis) -> LookupDecision {
        let timing = entry.timing
        return evaluateLookup(
            freshnessLifetimeMillis: timing.freshnessLifetime,
            currentAgeMillis: timing.currentAge(at: now),
            mustRevalidate: timing.mustRevalidate,
            alwaysRevalidate: timing.alwaysRevalidate,
            staleWhileRevalidateMillis: timing.staleWhileRevalidate,
            request: directives?.cacheControl ?? CacheControl(),
            honorClientNoCache: route.honorClientNoCache)
    }

    /// The response for a fresh hit: the stored header block and body, shared, plus `Age` and
    /// `Cache-Status`.
    func hitResponse(_ exchange: Exchange, entry: CacheEntry, remainingMillis: Int64, now: UnixMillis) -> ProxyResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Age", value: String(entry.timing.currentAge(at: now) / 1000))
        let ttl = remainingMillis / 1000
        if exchange.route.cacheStatus {
            headers.add(name: CacheStatusField.name, value: CacheStatusField.hit(ttlSeconds: ttl, tier: "l1"))
        }
        let response = ProxyResponse(
            status: HTTPResponseStatus(statusCode: entry.status),
            headerBlock: entry.headerBlock,
            headers: headers,
            body: entry.body,
            omitBody: exchange.isHead)
        if let accessLog {
            accessLog.append(record(exchange, status: entry.status, bytes: exchange.isHead ? 0 : entry.body.readableBytes,
                                    cache: .hit, tier: "l1", ttl: Int(ttl), collapsed: false, originMillis: nil))
        }
        return response
    }

    // MARK: - Access log

    func record(
        _ exchange: Exchange, status: Int, bytes: Int, cache: AccessLogRecord.CacheOutcome, tier: String = "", ttl: Int?,
        collapsed: Bool, originMillis: Double?
    ) -> AccessLogRecord {
        let elapsed = Double((NIODeadline.now() - exchange.startUptime).nanoseconds) / 1_000_000
        return AccessLogRecord(
            timestamp: exchange.startTime, method: exchange.request.head.method.rawValue,
            host: exchange.request.head.headers.first(name: "host") ?? "", url: exchange.request.head.uri,
            route: exchange.route.name, status: status, bytes: bytes, cache: cache, tier: tier, ttl: ttl, collapsed: collapsed,
            key: exchange.key.isEmpty ? "" : FNV1a.hex(exchange.key), milliseconds: elapsed, originMilliseconds: originMillis,
            client: clientAddress(exchange.request))
    }

    func logLocal(_ request: ProxyRequest, status: Int, route: String, start: UnixMillis, uptime: NIODeadline) {
        guard let accessLog else { return }
        let elapsed = Double((NIODeadline.now() - uptime).nanoseconds) / 1_000_000
        accessLog.append(
            AccessLogRecord(
                timestamp: start, method: request.head.method.rawValue, host: request.head.headers.first(name: "host") ?? "",
                url: request.head.uri, route: route, status: status, bytes: 0, cache: .pass, milliseconds: elapsed,
                client: clientAddress(request)))
    }

    /// The client as logged: the peer, or with a trusted peer the rightmost untrusted
    /// `X-Forwarded-For` entry.
    func clientAddress(_ request: ProxyRequest) -> String {
        guard configuration.trustedProxies.contains(request.peer) else { return request.peer }
        let chain = request.head.headers["x-forwarded-for"].flatMap { $0.split(separator: ",") }.map { String($0.trimmingSpaces()) }
        return chain.reversed().first { !configuration.trustedProxies.contains($0) } ?? request.peer
    }
}
