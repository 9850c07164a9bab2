/// Everything the cache must keep next to a stored response to make later decisions without the
/// origin: freshness, age inputs, stale windows, validators and which fields to drop.
///
/// All times are Unix milliseconds from the injected wall clock; all durations milliseconds.
/// Promotion and demotion between tiers copy a plan unchanged.
public struct StoragePlan: Sendable, Equatable {
    /// Freshness lifetime (RFC 9111 §4.2.1) after TTL source and `max_ttl`, in ms.
    public var freshnessLifetimeMillis: Int64
    /// `corrected_initial_age` (RFC 9111 §4.2.3): age when received, from `Age`, `Date` and the
    /// request/response delay.
    public var correctedInitialAgeMillis: Int64
    /// When the response was received (`response_time`).
    public var responseTimeMillis: Int64
    /// When the request that produced it was sent (`request_time`).
    public var requestTimeMillis: Int64
    /// The response's `Date` in ms, or `responseTimeMillis` when absent or invalid
    /// (RFC 9110 §6.6.1: a recipient adds `Date` with the time it received the response).
    public var dateMillis: Int64
    /// How long after going stale the entry may be served while a background refresh runs.
    public var staleWhileRevalidateMillis: Int64
    /// How long after going stale the entry may be served when the origin fails.
    public var staleIfErrorMillis: Int64
    /// Once stale (and past any stale window the origin itself granted), the entry must be
    /// validated before use; client `max-stale` cannot relax this. Set by `must-revalidate`,
    /// `proxy-revalidate`, or `s-maxage` (RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10).
    public var mustRevalidate: Bool
    /// Unqualified `no-cache` in the response: validate before every use (RFC 9111 §5.2.2.4).
    public var alwaysRevalidate: Bool
    /// How long to keep the entry in a tier, measured from `responseTimeMillis`: remaining
    /// freshness at receipt + the longest stale window (the route's `staleIfUnreachable` bound
    /// included) + `keepWithValidators` when it has a validator. Not freshness: a kept stale entry still needs revalidation.
    public var storageLifetimeMillis: Int64
    /// The response's `ETag` value as received (e.g. `"abc"` or `W/"abc"`), if any.
    public var etag: String?
    /// The response's `Last-Modified` value as received, if present and a valid HTTP-date.
    public var lastModified: String?
    /// Lowercased names of fields not to store: `set-cookie` (always), `age` (regenerated on
    /// every use), `proxy-authenticate` and all hop-by-hop fields, and the fields named by
    /// `private="…"` / `no-cache="…"`. Apply with `fieldsToStore(_:)`.
    public var strippedFieldNames: Set<String>
    /// Whether the lifetime came from the Last-Modified heuristic (RFC 9111 §4.2.2).
    public var heuristic: Bool

    /// Creates a plan from its parts (normally produced by `evaluateStorability`).
    public init(
        freshnessLifetimeMillis: Int64,
        correctedInitialAgeMillis: Int64,
        responseTimeMillis: Int64,
        requestTimeMillis: Int64,
        dateMillis: Int64,
        staleWhileRevalidateMillis: Int64,
        staleIfErrorMillis: Int64,
        mustRevalidate: Bool,
        alwaysRevalidate: Bool,
        storageLifetimeMillis: Int64,
        etag: String?,
        lastModified: String?,
        strippedFieldNames: Set<String>,
        heuristic: Bool
    ) {
        self.freshnessLifetimeMillis = freshnessLifetimeMillis
        self.correctedInitialAgeMillis = correctedInitialAgeMillis
        self.responseTimeMillis = responseTimeMillis
        self.requestTimeMillis = requestTimeMillis
        self.dateMillis = dateMillis
        self.staleWhileRevalidateMillis = staleWhileRevalidateMillis
        self.staleIfErrorMillis = staleIfErrorMillis
        self.mustRevalidate = mustRevalidate
        self.alwaysRevalidate = alwaysRevalidate
        self.storageLifetimeMillis = storageLifetimeMillis
        self.etag = etag
        self.lastModified = lastModified
        self.strippedFieldNames = strippedFieldNames
        self.heuristic = heuristic
    }

    /// Whether the entry carries a validator for a conditional request.
    public var hasValidator: Bool { etag != nil || lastModified != nil }

    /// Wall-clock time (ms) when the entry stops being fresh.
    public var freshUntilMillis: Int64 {
        Sat.add(responseTimeMillis, Sat.sub(freshnessLifetimeMillis, correctedInitialAgeMillis))
    }

    /// Wall-clock time (ms) after which a tier may drop the entry.
    public var storageExpiresAtMillis: Int64 { Sat.add(responseTimeMillis, storageLifetimeMillis) }

    /// The response header fields to store: `headers` without `strippedFieldNames`, order kept.
    public func fieldsToStore(_ headers: [HTTPField]) -> [HTTPField] {
        headers.removing(strippedFieldNames)
    }

    /// Current age (RFC 9111 §4.2.3) of this entry at `nowMillis`.
    public func currentAgeMillis(nowMillis: Int64) -> Int64 {
        PacaHTTPCaching.currentAgeMillis(
            correctedInitialAgeMillis: correctedInitialAgeMillis, responseTimeMillis: responseTimeMillis, nowMillis: nowMillis)
    }

    /// The `Age` header value in whole seconds at `nowMillis` (RFC 9111 §5.1), clamped to 2^31.
    public func ageHeaderSeconds(nowMillis: Int64) -> Int64 {
        min(currentAgeMillis(nowMillis: nowMillis) / 1000, DeltaSeconds.maximum)
    }

    /// Remaining freshness at `nowMillis` in ms: positive while fresh, zero or negative
    /// (minus the staleness) once stale. This is the `ttl` of `Cache-Status`, in ms.
    public func remainingFreshnessMillis(nowMillis: Int64) -> Int64 {
        Sat.sub(freshnessLifetimeMillis, currentAgeMillis(nowMillis: nowMillis))
    }
}
