/// Whether an `If-None-Match` value matches the stored response's `ETag` (RFC 9110 §13.1.2),
/// i.e. whether the condition is *false* and a 304 may be sent.
///
/// `*` alone matches any stored response. Otherwise the value is a list of entity tags compared
/// with the weak comparison function; invalid members are ignored. No stored `ETag` → no match.
public func ifNoneMatchMatches(_ headerValue: String, etag: String?) -> Bool {
    if ASCII.trimmed(headerValue) == "*" { return true }
    guard let etag, let stored = EntityTag(parsing: etag) else { return false }
    return EntityTag.list(headerValue).contains { $0.weaklyMatches(stored) }
}

/// Whether an `If-Modified-Since` value means the stored response is not modified
/// (RFC 9110 §13.1.3, RFC 9111 §4.3.2): its `Last-Modified` — or, without a valid one, its `Date` — is
/// earlier than or equal to the given date. An invalid date in the header, or no usable date in
/// the stored response, gives `false` (send the full response).
public func ifModifiedSinceNotModified(_ headerValue: String, lastModified: String?, dateHeader: String?) -> Bool {
    guard let since = HTTPDate.parse(headerValue) else { return false }
    if let lastModified, let lm = HTTPDate.parse(lastModified) { return lm <= since }
    if let dateHeader, let d = HTTPDate.parse(dateHeader) { return d <= since }
    return false
}

/// Whether the cache should answer a GET/HEAD request that it serves from storage with
/// 304 Not Modified (RFC 9111 §4.3.2, RFC 9110 §13.2.2).
///
/// `If-None-Match` (all lines combined) takes precedence; `If-Modified-Since` is used only
/// without it, and ignored when it appears on more than one line. `date` is the stored `Date`.
public func shouldAnswerNotModified(requestHeaders: [HTTPField], etag: String?, lastModified: String?, date: String?) -> Bool {
    let inm = requestHeaders.values("if-none-match")
    if !inm.isEmpty {
        if inm.contains(where: { ASCII.trimmed($0) == "*" }) { return true }
        return ifNoneMatchMatches(inm.joined(separator: ", "), etag: etag)
    }
    let ims = requestHeaders.values("if-modified-since")
    guard ims.count == 1 else { return false }
    return ifModifiedSinceNotModified(ims[0], lastModified: lastModified, dateHeader: date)
}

/// The conditional fields to send to the origin when revalidating a stored response
/// (RFC 9111 §4.3.1): `If-None-Match` with the stored `ETag` and `If-Modified-Since` with the
/// stored `Last-Modified`, each when present (sending both is allowed; the origin prefers
/// `If-None-Match`). Empty when there is no validator: the engine then fetches unconditionally.
public func revalidationHeaders(etag: String?, lastModified: String?) -> [HTTPField] {
    var out: [HTTPField] = []
    if let etag, !ASCII.trimmed(etag).isEmpty { out.append(HTTPField(name: "If-None-Match", value: ASCII.trimmed(etag))) }
    if let lastModified, HTTPDate.parse(lastModified) != nil {
        out.append(HTTPField(name: "If-Modified-Since", value: ASCII.trimmed(lastModified)))
    }
    return out
}
