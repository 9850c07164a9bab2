/// Paths a shared cache must invalidate after an unsafe request (RFC 9111 §4.4).
///
/// Only when `method` is unsafe and `status` is 2xx or 3xx. Targets, deduplicated in this
/// order: the request path, then `Location` and `Content-Location` when they are relative
/// references or absolute `http`/`https` URIs (or `//authority/...`) whose authority equals
/// `requestAuthority` (host case-insensitive, default ports 80/443 ignored). Another authority is
/// never invalidated, so a response cannot purge someone else's entries. Relative references
/// resolve against `requestPath` (RFC 3986 §5.2, including `.`/`..`). Results are paths with
/// any query kept and the fragment removed, e.g. `/a/b?x=1`.
public func invalidationTargets(
    method: String, status: Int, requestPath: String, requestAuthority: String, location: String?, contentLocation: String?
) -> [String] {
    guard !safeMethods.contains(method), (200...399).contains(status) else { return [] }
    var out: [String] = []
    func add(_ p: String?) {
        guard let p, !p.isEmpty, !out.contains(p) else { return }
        out.append(p)
    }
    let base = URIReference.stripFragment(requestPath)
    add(base.isEmpty ? "/" : base)
    for ref in [location, contentLocation] {
        guard let ref else { continue }
        add(URIReference.sameOriginPath(ASCII.trimmed(ref), base: base, authority: requestAuthority))
    }
    return out
}
