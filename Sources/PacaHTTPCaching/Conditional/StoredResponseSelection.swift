/// A stored response's validators, as RFC 9111 §4.3.4 compares them with a 304's.
public struct StoredValidators: Sendable, Equatable {
    /// The stored `ETag`, if any.
    public var etag: String?
    /// The stored `Last-Modified`, if any.
    public var lastModified: String?
    /// When the stored response was received (Unix ms): among weak matches the most recent wins.
    public var responseTime: Int64

    /// Creates the validators of one stored response.
    public init(etag: String?, lastModified: String?, responseTime: Int64) {
        self.etag = etag
        self.lastModified = lastModified
        self.responseTime = responseTime
    }
}

/// The stored responses a 304 updates (RFC 9111 §4.3.4), as indices into `stored` — the stored
/// responses for one primary key that the revalidation asked about, the one being revalidated
/// first:
/// - a strong `ETag` in the 304 selects every stored response whose `ETag` strongly matches it;
/// - a weak `ETag` selects the most recent stored response whose `ETag` weakly matches it;
/// - without an `ETag`, a `Last-Modified` (a weak validator) selects the most recent stored
///   response with the same `Last-Modified`;
/// - a 304 with no validator selects the stored response when there is exactly one. RFC 9111
///   also asks that it lack validators; paca accepts it anyway (origins often omit validators
///   from a 304, and paca asked with that one response's validators only, so the 304 can only
///   be about it).
///
/// Empty means no stored response matches: the 304 must not update any (the request is then
/// sent again without conditions).
public func storedResponsesSelected(byNotModified notModified: [HTTPField], among stored: [StoredValidators]) -> [Int] {
    func mostRecent(_ indices: [Int]) -> [Int] {
        guard let best = indices.max(by: { stored[$0].responseTime < stored[$1].responseTime }) else { return [] }
        return [best]
    }
    if let text = notModified.first("etag"), let tag = EntityTag(parsing: text) {
        let matching = stored.indices.filter { index in
            guard let storedText = stored[index].etag, let storedTag = EntityTag(parsing: storedText) else { return false }
            return tag.isWeak ? tag.weaklyMatches(storedTag) : tag.stronglyMatches(storedTag)
        }
        return tag.isWeak ? mostRecent(matching) : matching
    }
    if let text = notModified.first("last-modified"), let date = HTTPDate.parse(text) {
        return mostRecent(
            stored.indices.filter { index in
                stored[index].lastModified.flatMap(HTTPDate.parse) == date
            })
    }
    return stored.count == 1 ? [0] : []
}

/// The conditional fields that revalidate several stored responses for one primary key at once
/// (RFC 9111 §4.3.1: "if-none-match … the entity tags of all stored responses"): one
/// `If-None-Match` listing each distinct valid `ETag` in order, and `If-Modified-Since` with
/// `lastModified` (the revalidated response's) when it is a date. Empty when there is nothing to
/// ask with.
public func revalidationHeaders(etags: [String?], lastModified: String?) -> [HTTPField] {
    var seen: Set<String> = []
    var tags: [String] = []
    for text in etags {
        guard let text, let tag = EntityTag(parsing: text), seen.insert(tag.fieldValue).inserted else { continue }
        tags.append(ASCII.trimmed(text))
    }
    var out: [HTTPField] = []
    if !tags.isEmpty { out.append(HTTPField(name: "If-None-Match", value: tags.joined(separator: ", "))) }
    if let lastModified, HTTPDate.parse(lastModified) != nil {
        out.append(HTTPField(name: "If-Modified-Since", value: ASCII.trimmed(lastModified)))
    }
    return out
}
