/// The caching directives of a request: `Cache-Control` (RFC 9111 §5.2.1), or, when the request
/// has no `Cache-Control` field, `Pragma: no-cache` read as `no-cache` (RFC 9111 §5.4).
public struct RequestDirectives: Sendable, Equatable {
    /// The directives, with `Pragma: no-cache` folded into `noCache` when it applies.
    public var cacheControl: CacheControl
    /// Whether `Pragma: no-cache` was used because no `Cache-Control` was present.
    public var fromPragma: Bool

    /// Parses the request's header fields.
    public init(headers: [HTTPField]) {
        let lines = headers.values("cache-control")
        var cc = CacheControl(fieldValues: lines)
        var pragma = false
        if lines.isEmpty {
            for member in headers.listMembers("pragma") where ASCII.lowercased(member) == "no-cache" {
                cc.noCache = true
                pragma = true
            }
        }
        self.cacheControl = cc
        self.fromPragma = pragma
    }

    /// Wraps already parsed directives.
    public init(cacheControl: CacheControl) {
        self.cacheControl = cacheControl
        self.fromPragma = false
    }

    /// `no-store`: neither this request nor its response may be stored.
    public var noStore: Bool { cacheControl.noStore }
    /// `no-cache` (or `Pragma: no-cache`): the client wants a validated response.
    public var noCache: Bool { cacheControl.noCache }
    /// `only-if-cached`: the client wants a stored response or 504, never an origin fetch.
    public var onlyIfCached: Bool { cacheControl.onlyIfCached }
    /// `max-age` in seconds.
    public var maxAge: Int64? { cacheControl.maxAge }
    /// `min-fresh` in seconds.
    public var minFresh: Int64? { cacheControl.minFresh }
    /// `max-stale`.
    public var maxStale: MaxStale? { cacheControl.maxStale }

    /// Whether the client forces a trip to the origin regardless of the stored entry's age:
    /// `no-cache` or `max-age=0`, and only when the route honours client `no-cache`.
    /// The engine reports such a forward as `fwd=request` in `Cache-Status`.
    public func forcesRevalidation(honorClientNoCache: Bool) -> Bool {
        honorClientNoCache && (cacheControl.noCache || cacheControl.maxAge == 0)
    }
}
