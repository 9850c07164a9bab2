import NIOCore
import PacaCore
import PacaHTTPCaching

extension ProxyEngine {
    /// Everything the later stages need to know about one request.
    struct Exchange {
        let request: ProxyRequest
        let route: Route
        let target: RequestTarget
        let startTime: UnixMillis
        let startUptime: NIODeadline
        /// Which of the fields the engine branches on the request has, found in one pass.
        let present: RequestFieldPresence
        /// `v1|scheme://host|path?keyed-query|fingerprint`.
        var primaryKey: String = ""
        /// `primaryKey.hashValue` when a `PreparedHead` kept it (nil: hash the key).
        var primaryKeyHash: Int?
        /// The key of the entry used or filled (the variant key for varied responses).
        var key: String = ""
        var keyedQuery: String = ""
        var host: String = ""
        var directives: RequestDirectives?
        /// The route's counters when already looked up (a client's request); `routeCounters(_:)`
        /// finds them otherwise, so computing a key alone never registers a route in the stats.
        var counters: EngineStatistics.RouteStatistics?
        /// A prewarmer's request: same pipeline, but not a client's, so never access-logged.
        var warming = false
        /// A HEAD passed to the origin (no `convert_head`): its answer updates or invalidates
        /// the stored GET (RFC 9111 §4.3.5).
        var headUpdatesStored = false
        var isHead: Bool { request.head.method.isHEAD }

        init(request: ProxyRequest, route: Route, target: RequestTarget, startTime: UnixMillis, startUptime: NIODeadline) {
            self.init(
                request: request, route: route, target: target, present: RequestFieldPresence(request.head.headers),
                startTime: startTime, startUptime: startUptime)
        }

        /// `present`: the fields of `request`'s head, found before (`PreparedHead`).
        init(
            request: ProxyRequest, route: Route, target: RequestTarget, present: RequestFieldPresence, startTime: UnixMillis,
            startUptime: NIODeadline
        ) {
            self.request = request
            self.route = route
            self.target = target
            self.startTime = startTime
            self.startUptime = startUptime
            self.present = present
        }

        /// The request's fields in the form the RFC 9111 functions take.
        var requestFields: [HTTPField] {
            request.head.headers.map { HTTPField(name: $0.name, value: $0.value) }
        }

        /// The client asked to go to the origin (`no-cache`, `max-age=0`, `Pragma: no-cache`).
        var clientForcesRevalidation: Bool {
            directives?.forcesRevalidation(honorClientNoCache: route.honorClientNoCache) ?? false
        }
    }
}
