/// What a response to a HEAD request does to the stored GET response it could have selected
/// (RFC 9111 §4.3.5).
public enum HeadResponseEffect: Sendable, Equatable {
    /// Update the stored header fields from the HEAD response (§3.2) and refresh its freshness.
    case update
    /// The validators or the length differ: the stored response is stale (§4.3.5).
    case markStale
    /// The resource is gone (404, 410): remove the stored response.
    case remove
    /// Nothing to learn (a 304 that does not match, an error, a redirect): leave it as it is.
    case unchanged
}

/// How a response to a HEAD request affects the stored GET response it could have selected
/// (RFC 9111 §4.3.5; RFC 9110 §9.3.2: HEAD answers as GET would, without content).
///
/// - 200: when every validator the HEAD response carries (`ETag`, `Last-Modified`) has the
///   stored response's value, and its `Content-Length`, when present, equals the stored body's
///   length, the stored response is updated (`update`); otherwise it is stale (`markStale`). A
///   stored response that is not a 200 is stale too: the resource now answers 200.
/// - 304 (to a conditional HEAD): `update` when it applies to the stored response
///   (`notModifiedApplies`, §4.3.4), else `unchanged`.
/// - 404, 410: a GET would now answer that, so the stored response is removed (`remove`).
/// - Anything else: `unchanged`.
///
/// `storedContentLength` is the stored body's length, `nil` when unknown.
public func headResponseEffect(
    status: Int, headFields: [HTTPField], storedStatus: Int, storedETag: String?, storedLastModified: String?,
    storedContentLength: Int?
) -> HeadResponseEffect {
    switch status {
    case 200:
        guard storedStatus == 200 else { return .markStale }
        if let tagText = headFields.first("etag") {
            guard let storedETag, sameEntityTag(tagText, storedETag) else { return .markStale }
        }
        if let lastModified = headFields.first("last-modified") {
            guard let storedLastModified, sameHTTPDate(lastModified, storedLastModified) else { return .markStale }
        }
        let lengths = headFields.values("content-length").map { ASCII.trimmed($0) }
        if let first = lengths.first, let storedContentLength {
            guard lengths.allSatisfy({ $0 == first }), let length = Int(first), length == storedContentLength else { return .markStale }
        }
        return .update
    case 304:
        return notModifiedApplies(notModified: headFields, storedETag: storedETag, storedLastModified: storedLastModified)
            ? .update : .unchanged
    case 404, 410:
        return .remove
    default:
        return .unchanged
    }
}

/// Two `ETag` values are the same validator: the same opaque tag and the same weakness.
private func sameEntityTag(_ a: String, _ b: String) -> Bool {
    guard let x = EntityTag(parsing: a), let y = EntityTag(parsing: b) else { return ASCII.trimmed(a) == ASCII.trimmed(b) }
    return x == y
}

/// Two `Last-Modified` values name the same time (or, unparsable, are the same text).
private func sameHTTPDate(_ a: String, _ b: String) -> Bool {
    if let x = HTTPDate.parse(a), let y = HTTPDate.parse(b) { return x == y }
    return ASCII.trimmed(a) == ASCII.trimmed(b)
}
