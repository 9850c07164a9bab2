import Atomics
public import Logging
public import NIOCore
import NIOHTTP1
public import PacaAccessLog
public import PacaCore
import PacaHTTPCaching
public import PacaStorage
import Synchronization

/// The request pipeline (DESIGN.md §2): route → key → L1 lookup → RFC 9111 decision → a fresh
/// hit written back in the same turn of the event loop; otherwise a coalesced fetch or
/// revalidation through the origin client, stored when RFC 9111 allows. Knows no sockets, curl
/// or hiredis.
public final class ProxyEngine: ProxyResponder {
    /// What the engine needs beyond its collaborators.
    public struct Configuration: Sendable {
        /// The routes, in order.
        public var routes: RouteTable
        /// Peers whose `X-Forwarded-For` is extended rather than replaced. Default none.
        public var trustedProxies: Set<String>
        /// Largest request body forwarded. Default 10 MiB.
        public var maxRequestBodyBytes: Int
        /// How long an uncacheable answer makes later requests for the key skip waiting on
        /// another's fetch (hit-for-miss). Default 30 s.
        public var hitForMissDuration: Duration
        /// Most variants kept per URL; a new one past it removes the oldest. Default 16.
        public var maxVariants: Int
        /// Most requests that wait on one key's fill; past it a request fetches alone. Default
        /// 10,000.
        public var maxWaitersPerKey: Int
        /// Most keys remembered as hit-for-miss; past it the least recently used is forgotten
        /// (that key then waits on a fill again). Default 10,000.
        public var maxHitForMissKeys: Int
        /// Most purge times remembered (one per invalidated URL, so that a fill sent before the
        /// purge is not stored); past it the least recently used is forgotten. Separate from
        /// hit-for-miss, so uncacheable traffic never evicts a purge. Default 100,000.
        public var maxPurgeRecords: Int
        /// Which L1 hits are sent with `sendfile` from an in-memory mirror of the body.
        public var sendfile: Sendfile

        /// L1 hits with large bodies go out with `sendfile(2)` from an in-memory file mirroring
        /// the body (`BodyFile`): the kernel takes the pages instead of copying the bytes from
        /// user memory. The mirror is made by an entry's first such hit and lives as long as the
        /// entry; the mirrors alive together hold at most `maxBytes`, past which a hit writes
        /// from memory as any other.
        public struct Sendfile: Sendable, Equatable {
            /// Smallest body sent this way; `0` turns it off. Default 128 KiB.
            public var minBodyBytes: Int
            /// Most bytes held by all mirrors together. Default 64 MiB.
            public var maxBytes: Int
            /// Most mirrors alive together (each holds a descriptor, plus one per event loop
            /// that sent it). Default 256.
            public var maxFiles: Int

            /// Creates the policy.
            public init(minBodyBytes: Int = 128 << 10, maxBytes: Int = 64 << 20, maxFiles: Int = 256) {
                self.minBodyBytes = minBodyBytes
                self.maxBytes = maxBytes
                self.maxFiles = maxFiles
            }

            /// No hit is sent with `sendfile`.
            public static let off = Sendfile(minBodyBytes: 0, maxBytes: 0)
        }

        /// Creates a configuration.
        public init(
            routes: RouteTable, trustedProxies: Set<String> = [], maxRequestBodyBytes: Int = 10 << 20,
            hitForMissDuration: Duration = .seconds(30), maxVariants: Int = 16, maxHitForMissKeys: Int = 10_000,
            maxPurgeRecords: Int = 100_000, maxWaitersPerKey: Int = 10_000, sendfile: Sendfile = Sendfile()
        ) {
            self.sendfile = sendfile
            self.routes = routes
            self.trustedProxies = trustedProxies
            self.maxRequestBodyBytes = maxRequestBodyBytes
            self.hitForMissDuration = hitForMissDuration
            self.maxVariants = maxVariants
            self.maxHitForMissKeys = maxHitForMissKeys
            self.maxPurgeRecords = maxPurgeRecords
            self.maxWaitersPerKey = maxWaitersPerKey
        }
    }

    /// What a fill hands to the requests that waited on it.
    enum FillOutcome: Sendable {
        /// Stored: serve this entry if it is the variant you need.
        case stored(CacheEntry)
        /// Stored in L2 only (too large for L1): look it up there.
        case storedBelow
        /// The answer may not be shared: fetch on your own.
        case uncacheable
        /// The origin failed: answer with this error.
        case failed(OriginError)
    }

    let configuration: Configuration
    /// What a reload may change (routes, trusted proxies), swapped as one reference: a request
    /// reads it with one atomic load and keeps what it read to its end.
    let reloadable: ManagedAtomic<ReloadableSettings>

    /// The routes in force.
    var routes: RouteTable { reloadable.load(ordering: .acquiring).routes }
    /// The trusted proxies in force.
    var trustedProxies: Set<String> { reloadable.load(ordering: .acquiring).trustedProxies }
    /// Whether any proxy is trusted: most setups trust none, and a logged request then reads this
    /// flag instead of loading the settings (a strong load of an atomic reference is a few
    /// atomic operations) and hashing its peer.
    let trustsAProxy: ManagedAtomic<Bool>

    /// Swaps in new routes and trusted proxies (a configuration reload). Requests in flight finish
    /// with the route they matched; the next ones use the new table.
    public func reload(routes: RouteTable, trustedProxies: Set<String>) {
        reloadable.store(
            ReloadableSettings(routes: routes, trustedProxies: trustedProxies, statistics: statistics), ordering: .releasing)
        trustsAProxy.store(!trustedProxies.isEmpty, ordering: .releasing)
    }
    /// The tiers; `memory` is its L1, used synchronously on the hit path.
    let cache: TieredCache
    let memory: MemoryCache
    let origin: any OriginClient
    let clock: any WallClock
    let accessLog: AccessLogWriter?
    let logger: Logger
    /// One fill per key at a time; at most `maxWaitersPerKey` wait on it.
    let coalescer: RequestCoalescer<FillOutcome>
    /// One fill per key across the nodes sharing L3 (taken by this node's leader of a miss), or
    /// `nil`: coalescing per node only.
    let sharedFillLock: (any SharedFillLock)?
    /// Keys recently answered uncacheably, until when (at most `maxHitForMissKeys`).
    let hitForMiss: Mutex<BoundedLRUMap<String, UnixMillis>>
    /// Primary keys recently invalidated, and when; a fill sent before that time is not stored
    /// (at most `maxPurgeRecords`).
    /// The bans in force: purges by URL, pattern, regex or tag, with their times (DESIGN.md §3).
    public let bans: BanList
    /// Told of every ban made here (to share it with other nodes through L3).
    let banPublisher = Mutex<(@Sendable (Ban) -> Void)?>(nil)
    /// The latest storage expiry of any entry stored so far: a ban made now can expire then.
    let longestStorageExpiry = Atomic<Int64>(0)

    /// Raises `longestStorageExpiry` to `expiry`.
    func noteStorageExpiry(_ expiry: UnixMillis) {
        var current = longestStorageExpiry.load(ordering: .relaxed)
        while expiry > current {
            let (exchanged, original) = longestStorageExpiry.compareExchange(expected: current, desired: expiry, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
    /// A task executor per event loop, for lookups in the tiers under L1.
    let loopExecutors = EventLoopTaskExecutors()
    /// Counters for stats and tests.
    public let statistics: EngineStatistics
    /// What the `sendfile` mirrors of L1 bodies hold together (`Configuration.Sendfile.maxBytes`).
    public let sendfileBudget: BodyFileBudget

    /// Creates the engine. `sharedFillLock` makes a miss coalesce with the other nodes on the
    /// same L3 (default none).
    public init(
        configuration: Configuration,
        cache: TieredCache,
        origin: any OriginClient,
        clock: any WallClock = SystemWallClock(),
        accessLog: AccessLogWriter? = nil,
        sharedFillLock: (any SharedFillLock)? = nil,
        logger: Logger = Logger(label: "paca.engine")
    ) {
        self.sharedFillLock = sharedFillLock
        self.configuration = configuration
        let statistics = EngineStatistics()
        self.statistics = statistics
        self.reloadable = ManagedAtomic(
            ReloadableSettings(routes: configuration.routes, trustedProxies: configuration.trustedProxies, statistics: statistics))
        self.trustsAProxy = ManagedAtomic(!configuration.trustedProxies.isEmpty)
        self.cache = cache
        self.memory = cache.memory
        self.origin = origin
        self.clock = clock
        self.accessLog = accessLog
        self.logger = logger
        self.hitForMiss = Mutex(BoundedLRUMap(capacity: max(1, configuration.maxHitForMissKeys)))
        self.bans = BanList(maxKeyBans: max(1, configuration.maxPurgeRecords))
        self.coalescer = RequestCoalescer(maxWaiters: max(1, configuration.maxWaitersPerKey))
        self.sendfileBudget = BodyFileBudget(limit: configuration.sendfile.maxBytes, maxFiles: configuration.sendfile.maxFiles)
    }

    /// Answers `request`; a fresh L1 hit is answered immediately, on the caller's event loop.
    public func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        statistics.requestReceived()
        let now = clock.now()
        let startUptime = NIODeadline.now()
        // One load of the settings: the route and its counters come from the same table.
        let settings = reloadable.load(ordering: .acquiring)
        let target: RequestTarget
        let index: Int
        let present: RequestFieldPresence
        // What a head from the connection's memo holds, or what one worked out now will.
        var prepared: PreparedHead?
        let memo = request.headSerial != 0 ? request.memo : nil
        if let memo, memo.serial == request.headSerial, memo.owner === settings, let value = memo.value {
            // The same head as the connection's last one, under the same settings.
            let known = unsafeDowncast(value, to: PreparedHead.self)
            (target, index, present, prepared) = (known.target, known.routeIndex, known.present, known)
        } else {
            do {
                target = try RequestTarget.parseReceived(request.head.uri)
            } catch {
                return .immediate(.plain(.badRequest, "bad request target", close: true))
            }
            guard let found = settings.routes.index(for: target.path) else {
                logLocal(request, status: 404, route: "", start: now, uptime: startUptime)
                return .immediate(.plain(.notFound, "no route for \(target.path)"))
            }
            index = found
            present = RequestFieldPresence(request.head.headers)
            if let memo {
                // Only a head a connection may send again is kept: no object for the others.
                let known = PreparedHead(target: target, routeIndex: index, present: present)
                memo.serial = request.headSerial
                memo.owner = settings
                memo.value = known
                prepared = known
            }
        }
        let route = settings.routes.routes[index]
        let counters = settings.counters[index]
        let result = respond(
            to: request, route: route, counters: counters, target: target, present: present, prepared: prepared, now: now,
            startUptime: startUptime, on: eventLoop)
        // The request's duration: a hit's whole answer, or the time to a deferred answer's head.
        let durations = counters.requestDuration
        switch result {
        case .immediate(let response):
            durations.record(nanoseconds: ((response.answeredAt ?? NIODeadline.now()) - startUptime).nanoseconds)
        case .deferred(let future):
            future.whenComplete { _ in durations.record(nanoseconds: (NIODeadline.now() - startUptime).nanoseconds) }
        }
        return result
    }

    /// Answers a request that matched `route`.
    /// `prepared`: where the key's parts are kept for the next request of the same head, if any.
    private func respond(
        to request: ProxyRequest, route: Route, counters: EngineStatistics.RouteStatistics, target: RequestTarget,
        present: RequestFieldPresence, prepared: PreparedHead?, now: UnixMillis, startUptime: NIODeadline,
        on eventLoop: any EventLoop
    ) -> ProxyResult {
        let method = request.head.method
        if let methods = route.methods, !methods.contains(method.wireName) {
            var response = ProxyResponse.plain(.methodNotAllowed, "method \(method.wireName) not allowed on route \(route.name)")
            response.headers.add(name: "Allow", value: methods.sorted().joined(separator: ", "))
            logLocal(request, status: 405, route: route.name, start: now, uptime: startUptime)
            return .immediate(response)
        }
        var exchange = Exchange(
            request: request, route: route, target: target, present: present, startTime: now, startUptime: startUptime)
        exchange.counters = counters
        guard method.isGET || method.isHEAD else {
            return .deferred(pass(exchange, reason: .method, on: eventLoop))
        }
        guard route.cache else {
            return .deferred(pass(exchange, reason: .bypass("route"), on: eventLoop))
        }
        if exchange.present.contains(.cookie), !route.stripCookies, !route.keyedHeaderNames.contains("cookie") {
            return .deferred(pass(exchange, reason: .bypass("cookie"), on: eventLoop))
        }
        if method.isHEAD, !route.convertHead {
            assignKey(&exchange, prepared: prepared)
            exchange.headUpdatesStored = true
            return .deferred(pass(exchange, reason: .bypass("head"), on: eventLoop))
        }

        assignKey(&exchange, prepared: prepared)

        switch lookup(&exchange, now: now) {
        case .found(let entry):
            switch decide(exchange, entry: entry, tier: "l1", now: now, on: eventLoop) {
            case .serve(let response): return .immediate(response)
            case .later(let future): return .deferred(future)
            }
        case .varyMiss:
            return afterMemoryMiss(exchange, reason: "vary-miss", on: eventLoop)
        case .miss:
            return afterMemoryMiss(exchange, reason: "uri-miss", on: eventLoop)
        }
    }

    /// Sets the exchange's host, keyed query and keys (DESIGN.md §3), and its request directives.
    func assignKey(_ exchange: inout Exchange) {
        let route = exchange.route
        let headers = exchange.request.head.headers
        exchange.host =
            route.preserveHost ? (headers.first(name: "host")?.lowercased() ?? route.origin.authority) : route.origin.authority
        exchange.keyedQuery = CacheKeyBuilder.keyedQuery(exchange.target.query, rule: route.keyQuery)
        exchange.primaryKey = CacheKeyBuilder.key(
            route: route, host: exchange.host, path: exchange.target.path, keyedQuery: exchange.keyedQuery)
        exchange.primaryKeyHash = nil
        exchange.key = exchange.primaryKey
        assignDirectives(&exchange)
    }

    /// Sets the exchange's request directives, when its head has `Cache-Control` or `Pragma`.
    func assignDirectives(_ exchange: inout Exchange) {
        if !exchange.present.isDisjoint(with: [.cacheControl, .pragma]) {
            exchange.directives = RequestDirectives(headers: exchange.requestFields)
        }
    }

    /// The counters of the exchange's route.
    @inline(__always)
    func routeCounters(_ exchange: Exchange) -> EngineStatistics.RouteStatistics {
        exchange.counters ?? statistics.route(exchange.route.name)
    }

    /// What `decide` does with a stored entry.
    enum Decided {
        case serve(ProxyResponse)
        case later(EventLoopFuture<ProxyResponse>)
    }

    /// Applies RFC 9111 to a stored entry found in `tier`: serve it (fresh, or stale where
    /// allowed, refreshing in the background for stale-while-revalidate) or revalidate it.
    /// A large L2 entry (`file`) is served from its file; one that must be revalidated is fetched
    /// anew instead (its body is not in memory to keep on a 304).
    func decide(
        _ exchange: Exchange, entry: CacheEntry, tier: String, now: UnixMillis, file: DiskFileBody? = nil, on eventLoop: any EventLoop
    ) -> Decided {
        switch lookupDecision(entry: entry, exchange: exchange, now: now) {
        case .fresh(let remaining):
            statistics.hit(self.routeCounters(exchange), tier: tier)
            return .serve(serveStored(exchange, entry: entry, ttlMillis: remaining, now: now, outcome: .hit, tier: tier, file: file))
        case .staleWhileRevalidate(let stale):
            statistics.hit(self.routeCounters(exchange), tier: tier)
            statistics.staleServed.increment()
            if file == nil { refreshInBackground(exchange, stored: entry, on: eventLoop) }
            return .serve(serveStored(exchange, entry: entry, ttlMillis: -stale, now: now, outcome: .stale, tier: tier, file: file))
        case .staleAcceptable(let stale):
            statistics.hit(self.routeCounters(exchange), tier: tier)
            statistics.staleServed.increment()
            return .serve(serveStored(exchange, entry: entry, ttlMillis: -stale, now: now, outcome: .stale, tier: tier, file: file))
        case .revalidate:
            if exchange.directives?.onlyIfCached == true {
                file?.cancel()
                return .serve(onlyIfCached(exchange))
            }
            if let file {
                file.cancel()
                statistics.miss(self.routeCounters(exchange))
                return .later(miss(exchange, reason: "stale", on: eventLoop))
            }
            statistics.revalidations.increment()
            let reason = exchange.clientForcesRevalidation && entry.timing.remainingFreshness(at: now) > 0 ? "request" : "stale"
            return .later(revalidate(exchange, stored: entry, reason: reason, on: eventLoop))
        }
    }

    /// L1 had nothing usable: ask the lower tiers (off the event loop), else the origin.
    func afterMemoryMiss(_ exchange: Exchange, reason: String, on eventLoop: any EventLoop) -> ProxyResult {
        guard cache.hasLowerTiers else {
            if exchange.directives?.onlyIfCached == true { return .immediate(onlyIfCached(exchange)) }
            statistics.miss(self.routeCounters(exchange))
            return .deferred(miss(exchange, reason: reason, on: eventLoop))
        }
        let promise = eventLoop.makePromise(of: LowerLookup?.self)
        let primaryKey = exchange.primaryKey
        let requestFields = exchange.requestFields
        let now = exchange.startTime
        // The lookup runs on this loop: an L3 reply read by the loop's own Redis connection
        // resumes it in the same tick, with no thread of the pool to wake. It must not block,
        // and child tasks made under it (a task group) would run on the loop one at a time;
        // unstructured tasks it starts run on the pool as usual.
        Task(executorPreference: loopExecutors.executor(for: eventLoop)) { [self] in
            promise.succeed(await lowerLookup(primaryKey: primaryKey, requestFields: requestFields, now: now, on: eventLoop))
        }
        return .deferred(
            promise.futureResult.hop(to: eventLoop).flatMap { found -> EventLoopFuture<ProxyResponse> in
                var exchange = exchange
                if let variantKey = found?.variantKey { exchange.key = variantKey }
                if let found, let entry = found.entry {
                    switch self.decide(exchange, entry: entry, tier: found.tier, now: self.clock.now(), file: found.file, on: eventLoop) {
                    case .serve(let response): return eventLoop.makeSucceededFuture(response)
                    case .later(let future): return future
                    }
                }
                found?.file?.cancel()
                if exchange.directives?.onlyIfCached == true { return eventLoop.makeSucceededFuture(self.onlyIfCached(exchange)) }
                self.statistics.miss(self.routeCounters(exchange))
                return self.miss(exchange, reason: found?.variantKey != nil ? "vary-miss" : reason, on: eventLoop)
            })
    }

    /// Looks a request up in the tiers under L1 (off the event loop), following a vary marker to
    /// the request's variant; `nil` when no tier has the URL.
    func lowerLookup(primaryKey: String, requestFields: [HTTPField], now: UnixMillis, on eventLoop: any EventLoop) async -> LowerLookup? {
        let filter = banFilter(primaryKey: primaryKey, now: now)
        guard let first = await cache.getLowerForServing(primaryKey, now: now, on: eventLoop, filter: filter) else { return nil }
        guard case .entry(let marker) = first.hit, marker.isVaryMarker else { return LowerLookup(first.hit, tier: first.tier) }
        let variantKey = CacheEntry.variantKey(
            primaryKey: primaryKey, secondaryKey: secondaryKey(varyNames: marker.varyNames, requestHeaders: requestFields))
        guard let variant = await cache.getLowerForServing(variantKey, now: now, on: eventLoop, filter: filter) else {
            return LowerLookup(entry: nil, tier: first.tier, variantKey: variantKey)
        }
        var found = LowerLookup(variant.hit, tier: variant.tier)
        found.variantKey = variantKey
        return found
    }

    /// Entries read from below pass the ban list before they are used or promoted: a purge
    /// made after their fetch drops them (or, soft, marks them stale at `now`).
    func banFilter(primaryKey: String, now: UnixMillis) -> @Sendable (CacheEntry) -> CacheEntry? {
        let bans = self.bans
        return { entry in
            switch bans.verdict(key: entry.key, primaryKey: primaryKey, fields: entry.headers, fetchedAt: entry.timing.requestTime) {
            case .none: entry
            case .stale: entry.markedStale(at: now)
            case .drop: nil
            }
        }
    }

    /// What the lower tiers had.
    struct LowerLookup: Sendable {
        var entry: CacheEntry?
        var tier: String
        var variantKey: String?
        /// The body's file, for a large L2 entry (`entry` is then its head).
        var file: DiskFileBody?

        init(entry: CacheEntry?, tier: String, variantKey: String? = nil) {
            self.entry = entry
            self.tier = tier
            self.variantKey = variantKey
        }

        init(_ hit: TieredCache.LowerHit, tier: String) {
            switch hit {
            case .entry(let entry): self.init(entry: entry, tier: tier)
            case .file(let file):
                self.init(entry: file.entry, tier: tier)
                self.file = file
            }
        }
    }

    /// RFC 9111 §5.2.1.7: nothing usable is stored, so 504.
    func onlyIfCached(_ exchange: Exchange) -> ProxyResponse {
        logLocal(exchange.request, status: 504, route: exchange.route.name, start: exchange.startTime, uptime: exchange.startUptime)
        return .plain(.gatewayTimeout, "only-if-cached: no stored response can answer this request")
    }

    /// What L1 has for the exchange.
    enum Lookup {
        /// A stored response (`exchange.key` set to its key).
        case found(CacheEntry)
        /// The URL varies and this request's variant is missing (`exchange.key` is its key).
        case varyMiss
        /// Nothing stored.
        case miss
    }

    /// Looks the exchange up in L1, following a vary marker to the request's variant.
    func lookup(_ exchange: inout Exchange, now: UnixMillis) -> Lookup {
        let hash = exchange.primaryKeyHash ?? exchange.primaryKey.hashValue
        guard let first = memory.get(exchange.primaryKey, hashValue: hash, now: now) else { return .miss }
        guard first.isVaryMarker else { return .found(first) }
        // The request's fields are read in place (no `[HTTPField]` copy): this runs on every hit
        // of a varying URL.
        let headers = exchange.request.head.headers
        let secondary = secondaryKey(varyNames: first.varyNames) { visit in
            for header in headers { visit(header.name, header.value) }
        }
        exchange.key = CacheEntry.variantKey(primaryKey: exchange.primaryKey, secondaryKey: secondary)
        guard let variant = memory.get(exchange.key, now: now) else { return .varyMiss }
        return .found(variant)
    }

    /// Whether `entry` may answer the exchange now (RFC 9111 §4.2, request directives §5.2.1).
    func lookupDecision(entry: CacheEntry, exchange: Exchange, now: UnixMillis) -> LookupDecision {
        let timing = entry.timing
        return evaluateLookup(
            freshnessLifetimeMillis: timing.freshnessLifetime,
            currentAgeMillis: timing.currentAge(at: now),
            mustRevalidate: timing.mustRevalidate,
            alwaysRevalidate: timing.alwaysRevalidate,
            staleWhileRevalidateMillis: timing.staleWhileRevalidate,
            request: exchange.directives?.cacheControl ?? CacheControl(),
            honorClientNoCache: exchange.route.honorClientNoCache,
            immutable: exchange.clientForcesRevalidation && exchange.route.honorImmutable && Self.isImmutable(entry, route: exchange.route))
    }

    /// Whether the stored response said `immutable` (RFC 8246), in the directives the route's
    /// cache follows (a targeted field, RFC 9213, else `Cache-Control`). Read from the stored
    /// fields only for a client reload, so the ordinary hit path parses nothing.
    static func isImmutable(_ entry: CacheEntry, route: Route) -> Bool {
        ResponseCacheDirectives(responseHeaders: entry.headers, targets: route.policy.cacheControlTargets).cacheControl.immutable
    }
}

/// The part of the engine's settings a reload swaps.
final class ReloadableSettings: AtomicReference, Sendable {
    let routes: RouteTable
    let trustedProxies: Set<String>
    /// Each route's counters, in the order of `routes.routes`: looked up by name once per
    /// reload, not per request (a string hash and an atomic load each time).
    let counters: [EngineStatistics.RouteStatistics]

    init(routes: RouteTable, trustedProxies: Set<String>, statistics: EngineStatistics) {
        self.routes = routes
        self.trustedProxies = trustedProxies
        self.counters = routes.routes.map { statistics.route($0.name) }
    }
}
