import PacaCore
public import PacaHTTPCaching

/// Which query parameters are part of the cache key (and so reach the origin on a cacheable
/// request).
public enum QueryKeyRule: Sendable, Equatable {
    /// Every parameter (the default).
    case all
    /// Only these names.
    case include(Set<String>)
    /// Every parameter but these names.
    case exclude(Set<String>)

    /// Whether the parameter `name` is keyed.
    public func keeps(_ name: Substring) -> Bool {
        switch self {
        case .all: true
        case .include(let names): names.contains(String(name))
        case .exclude(let names): !names.contains(String(name))
        }
    }

    /// Whether the parameter whose name is the UTF-8 `name` is keyed.
    func keeps(name: UnsafeBufferPointer<UInt8>) -> Bool {
        switch self {
        case .all: true
        case .include(let names): names.contains(String(decoding: name, as: UTF8.self))
        case .exclude(let names): !names.contains(String(decoding: name, as: UTF8.self))
        }
    }
}

/// Which client request fields reach the origin on a cacheable request (DESIGN.md §3, "What
/// reaches the origin").
public enum ForwardMode: String, Sendable, Equatable, CaseIterable {
    /// Every end-to-end field but the poisoning vectors from untrusted peers (the default, as
    /// nginx and Varnish do); the origin's `Vary` keys the variants.
    case all
    /// Only the keyed fields, `forward_headers` and `Authorization`: the strict mode for origins
    /// that vary on request fields without saying so in `Vary`.
    case keyed
}

/// An origin server, split from its URL once.
public struct Origin: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// `host[:port]`, lower-cased, as it goes into keys and `Host`.
    public var authority: String
    /// A path prefix the origin is mounted under (`""` for none; no trailing slash).
    public var basePath: String

    /// Parses `http://host[:port][/prefix]`; `nil` when it is not such a URL.
    public init?(url: String) {
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") {
            scheme = "http"
        } else if lower.hasPrefix("https://") {
            scheme = "https"
        } else {
            return nil
        }
        let rest = url.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd].lowercased()
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(" ") else { return nil }
        var base = String(rest[authorityEnd...])
        guard !base.contains("?"), !base.contains("#") else { return nil }
        while base.hasSuffix("/") { base.removeLast() }
        self.scheme = scheme
        self.authority = authority
        self.basePath = base
    }

    /// `scheme://authority`.
    public var schemeAndAuthority: String { "\(scheme)://\(authority)" }
}

/// One entry of `routes.json`'s `routes`, resolved and validated. A class: every request holds
/// its route, and sharing one immutable object costs a retain where a struct of strings and sets
/// would cost one per field.
public final class Route: Sendable {
    /// The route's name, for logs and stats (not part of any key).
    public let name: String
    /// Which normalised paths it takes.
    public let match: Glob
    /// Where misses go.
    public let origin: Origin
    /// Methods forwarded; `nil` forwards all. Only GET and HEAD are ever served from cache.
    public let methods: Set<String>?
    /// `false` makes the route a pass-through.
    public let cache: Bool
    /// Freshness rules (route `ttl`, `ttl_source`, `max_ttl`, stale windows, exceptions).
    public let policy: RoutePolicy
    /// Which query parameters are keyed.
    public let keyQuery: QueryKeyRule
    /// Request header names (lower-cased) that are keyed and forwarded.
    public let keyHeaders: [String]
    /// Further request headers forwarded on cacheable requests; keyed too.
    public let forwardHeaders: [String]
    /// Drop an unkeyed `Cookie` instead of passing the request uncached.
    public let stripCookies: Bool
    /// Key and forward the client's `Host` instead of the origin's authority.
    public let preserveHost: Bool
    /// Which request fields a cacheable request forwards. Default `.all`.
    public let forward: ForwardMode
    /// Limit for connecting to the origin. Default 5 s.
    public let connectTimeout: Duration
    /// Limit for a whole origin exchange. Default 30 s.
    public let timeout: Duration
    /// Add the `Cache-Status` field. Default on.
    public let cacheStatus: Bool
    /// A client's `no-cache` / `max-age=0` makes paca revalidate. Default on.
    public let honorClientNoCache: Bool
    /// A client's reload (`no-cache` / `max-age=0`) of a fresh entry whose response said
    /// `immutable` is answered from the cache (RFC 8246). Default on.
    public let honorImmutable: Bool
    /// A cacheable HEAD miss is fetched as GET and stored, and a HEAD for a stale entry is
    /// revalidated with a conditional HEAD; off, every HEAD passes to the origin and its answer
    /// updates or invalidates the stored GET (RFC 9111 §4.3.5). Default on.
    public let convertHead: Bool
    /// A POST answer with explicit freshness and a `Content-Location` naming the POST's target is
    /// stored for later GETs of that URI (RFC 9110 §9.3.3). Default off.
    public let storePostResponses: Bool
    /// L2 and L3 store this route's entries sealed (AES-GCM, `storage.encryption`); L1 keeps
    /// them in plaintext. Part of the fingerprint, so sealed and plain entries never share a key.
    /// Default off.
    public let encrypt: Bool
    /// Digest of everything that shapes the key and the origin's answer (origin, key rules),
    /// the last component of every key of this route.
    public let fingerprint: String

    /// Creates a route with the defaults above.
    public init(
        name: String,
        match: String,
        origin: Origin,
        methods: Set<String>? = nil,
        cache: Bool = true,
        policy: RoutePolicy = RoutePolicy(),
        keyQuery: QueryKeyRule = .all,
        keyHeaders: [String] = [],
        forwardHeaders: [String] = [],
        stripCookies: Bool = false,
        preserveHost: Bool = false,
        forward: ForwardMode = .all,
        connectTimeout: Duration = .seconds(5),
        timeout: Duration = .seconds(30),
        cacheStatus: Bool = true,
        honorClientNoCache: Bool = true,
        honorImmutable: Bool = true,
        convertHead: Bool = true,
        encrypt: Bool = false,
        storePostResponses: Bool = false
    ) {
        self.name = name
        self.match = Glob(match)
        self.origin = origin
        self.methods = methods
        self.cache = cache
        self.policy = policy
        self.keyQuery = keyQuery
        self.keyHeaders = keyHeaders.map { $0.lowercased() }
        self.forwardHeaders = forwardHeaders.map { $0.lowercased() }
        self.stripCookies = stripCookies
        self.preserveHost = preserveHost
        self.forward = forward
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.cacheStatus = cacheStatus
        self.honorClientNoCache = honorClientNoCache
        self.honorImmutable = honorImmutable
        self.convertHead = convertHead
        self.encrypt = encrypt
        self.storePostResponses = storePostResponses
        let keyed = Array(Set(self.keyHeaders + self.forwardHeaders)).sorted()
        self.keyedHeaderNames = keyed
        self.fingerprint = Self.fingerprint(
            origin: origin, keyQuery: keyQuery, keyedHeaderNames: keyed, preserveHost: preserveHost, forward: forward,
            encrypt: encrypt)
    }

    /// Request header names that are part of the key (`key.headers` and `forward_headers`),
    /// lower-cased and sorted; computed once.
    public let keyedHeaderNames: [String]

    private static func fingerprint(
        origin: Origin, keyQuery: QueryKeyRule, keyedHeaderNames: [String], preserveHost: Bool, forward: ForwardMode, encrypt: Bool
    )
        -> String
    {
        var text = "\(origin.schemeAndAuthority)\(origin.basePath)|"
        switch keyQuery {
        case .all: text += "q*"
        case .include(let names): text += "q+" + names.sorted().joined(separator: ",")
        case .exclude(let names): text += "q-" + names.sorted().joined(separator: ",")
        }
        text += "|h" + keyedHeaderNames.joined(separator: ",")
        text += preserveHost ? "|ph" : ""
        // The strict mode sends the origin less, so its answers are not interchangeable with
        // those fetched with every field.
        text += forward == .keyed ? "|fk" : ""
        // Sealed entries live under their own keys: turning `encrypt` on never serves (or
        // promotes) an entry that was stored in plaintext, and turning it off never leaves a
        // sealed entry that a node without the key would keep missing.
        text += encrypt ? "|enc" : ""
        return FNV1a.hex(text)
    }
}

/// The ordered routes; the first whose glob matches wins.
public struct RouteTable: Sendable {
    /// The routes, in order.
    public let routes: [Route]

    /// Creates a table.
    public init(_ routes: [Route]) {
        self.routes = routes
    }

    /// The first route that matches `path`.
    public func route(for path: String) -> Route? {
        index(for: path).map { routes[$0] }
    }

    /// The position in `routes` of the first route that matches `path`.
    public func index(for path: String) -> Int? {
        for index in routes.indices where routes[index].match.matches(path) { return index }
        return nil
    }
}
