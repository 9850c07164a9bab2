/// Whether the answer to a POST may be stored as the response to later GET and HEAD requests
/// of its target URI (RFC 9110 §9.3.3; RFC 9111 §3 leaves the method to the cache).
///
/// Only a 200 or 203 that carries explicit freshness (`s-maxage`, `max-age` or `Expires`, read
/// from the targeted field in force when there is one, RFC 9213) and a `Content-Location` that
/// names the POST's own target: an absolute path equal to `requestTarget` (normalised path with
/// query), a relative reference that resolves to it, or an `http`/`https` URI on
/// `requestAuthority`. Whether it is then stored is up to the ordinary storability rules.
public func postResponseReusableForGet(
    requestTarget: String, requestAuthority: String, status: Int, responseHeaders: [HTTPField], cacheControlTargets: [String]
) -> Bool {
    guard status == 200 || status == 203 else { return false }
    guard let contentLocation = responseHeaders.first("content-location"),
        let named = URIReference.sameOriginPath(ASCII.trimmed(contentLocation), base: requestTarget, authority: requestAuthority),
        named == URIReference.normalizeDots(URIReference.stripFragment(requestTarget))
    else { return false }
    let directives = ResponseCacheDirectives(responseHeaders: responseHeaders, targets: cacheControlTargets)
    let cc = directives.cacheControl
    return cc.sMaxAge != nil || cc.maxAge != nil || (directives.honoursExpires && responseHeaders.contains("expires"))
}
