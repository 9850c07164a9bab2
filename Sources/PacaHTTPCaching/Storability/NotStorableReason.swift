/// Why a response was not stored. The raw value is the `detail=` of the `Cache-Status` member.
public enum NotStorableReason: String, Sendable, CaseIterable {
    /// The request method is not GET or HEAD (RFC 9111 §3).
    case method
    /// The status code is not final, is 304, is outside 100–599, is not understood while
    /// `must-understand` is present, or may only be stored with explicit freshness which the
    /// response lacks (RFC 9111 §3).
    case status
    /// `no-store` in the request or the response (RFC 9111 §5.2.1.5, §5.2.2.5).
    case noStore = "no-store"
    /// Unqualified `private`: a shared cache must not store it (RFC 9111 §5.2.2.7).
    case isPrivate = "private"
    /// The request carried `Authorization` and the response gave no permission (RFC 9111 §3.5).
    case authorization
    /// The response sets a cookie and the route does not name the exception.
    case setCookie = "set-cookie"
    /// `Vary: *` can never be matched by a later request (RFC 9111 §4.1).
    case varyStar = "vary-star"
    /// No freshness lifetime, no validator and no stale window: nothing to serve later.
    case noFreshness = "no-ttl"
    /// Unqualified `no-cache` without a validator: every use would be a full fetch anyway.
    case noCacheWithoutValidator = "no-cache"
    /// The body exceeds the route's `maxBodyBytes`.
    case tooLarge = "too-large"
    /// 206 Partial Content is never stored as a response of its own; the engine may keep it as a
    /// part (`combinePart`, RFC 9111 §3.3–3.4).
    case partial
}
