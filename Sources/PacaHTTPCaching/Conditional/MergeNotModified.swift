/// Field names a 304 never updates in a stored response (RFC 9111 §3.2). Every other field of
/// the 304 replaces the stored one, `Content-Type` included (paca stores the body as received,
/// never a processed form of it). Excluded:
/// - `content-length`: named by §3.2 (the stored body keeps its length);
/// - `content-encoding`: the stored response depends on it (§3.2): paca keeps and forwards the
///   bytes exactly as received, in the stored coding, and a 304 cannot recode them;
/// - `content-range`: processed by the recipient, which §3.2 lets a cache ignore;
/// - fields excepted from storage (§3.1): hop-by-hop fields (`transfer-encoding`, `te`,
///   `trailer`, `upgrade`, `keep-alive`, `connection` and the fields it names), `proxy-*`, and by
///   paca's rule `set-cookie`; `age` is kept in the entry's timing, never as a field (the
///   engine feeds the 304's `Age` to the refreshed freshness).
public let notModifiedExcludedFieldNames: Set<String> = HopByHop.fixedNames.union([
    "content-length", "content-encoding", "content-range", "set-cookie", "age",
    "proxy-authenticate", "proxy-authentication-info",
])

/// Updates stored header fields from a 304 Not Modified (RFC 9111 §3.2, §4.3.4).
///
/// Every field of the 304 replaces all stored lines of the same name, at the position of the
/// first stored line; fields new to the stored response are appended in the 304's order. Fields in
/// `notModifiedExcludedFieldNames`, fields named in the 304's `Connection`, `Proxy-*` fields and
/// `excluding` (lowercased; e.g. a `StoragePlan`'s `strippedFieldNames`, or `etag` when the
/// cache weakened it) are not taken from the 304. Stored order is otherwise kept.
public func mergeNotModified(stored: [HTTPField], notModified: [HTTPField], excluding: Set<String> = []) -> [HTTPField] {
    var skip = notModifiedExcludedFieldNames.union(excluding.map(ASCII.lowercased))
    skip.formUnion(HopByHop.names(in: notModified))
    var updates: [String: [HTTPField]] = [:]
    var order: [String] = []
    for field in notModified {
        let name = ASCII.lowercased(field.name)
        if skip.contains(name) || HopByHop.isHopByHop(name) { continue }
        if updates[name] == nil { order.append(name) }
        updates[name, default: []].append(field)
    }
    var emitted: Set<String> = []
    var out: [HTTPField] = []
    out.reserveCapacity(stored.count + notModified.count)
    for field in stored {
        let name = ASCII.lowercased(field.name)
        guard let replacement = updates[name] else {
            out.append(field)
            continue
        }
        if emitted.insert(name).inserted { out.append(contentsOf: replacement) }
    }
    for name in order where !emitted.contains(name) {
        out.append(contentsOf: updates[name] ?? [])
    }
    return out
}

/// Whether a 304 applies to a stored response (RFC 9111 §4.3.4): with a strong `ETag` in the 304
/// it must strongly match the stored one; with a weak one it must weakly match; otherwise a
/// `Last-Modified` in the 304 must equal the stored one; a 304 without validators applies.
/// When this is `false` the engine should fetch the full response instead of merging.
public func notModifiedApplies(notModified: [HTTPField], storedETag: String?, storedLastModified: String?) -> Bool {
    if let newTagText = notModified.first("etag"), let newTag = EntityTag(parsing: newTagText) {
        guard let storedETag, let stored = EntityTag(parsing: storedETag) else { return false }
        return newTag.isWeak ? newTag.weaklyMatches(stored) : newTag.stronglyMatches(stored)
    }
    if let lm = notModified.first("last-modified"), let newDate = HTTPDate.parse(lm) {
        guard let storedLastModified, let storedDate = HTTPDate.parse(storedLastModified) else { return false }
        return newDate == storedDate
    }
    return true
}
