import NIOCore
public import PacaHTTPCaching

/// Partial content (RFC 9111 §3.3–3.4): the 206 parts kept for a URL are one entry under
/// `primaryKey|p`, status 206, whose body is the parts' bytes in order and whose withheld
/// `Paca-Parts` field says where they sit (`StoredParts.layout`). It lives in L1 only and is
/// bounded in bytes like any entry; once the parts cover the representation they become a
/// complete 200 entry at the primary key and this one goes.
extension CacheEntry {
    /// The withheld field holding the parts' layout.
    public static let partsFieldName = "paca-parts"

    /// The key of the parts kept for `primaryKey`.
    public static func partialKey(primaryKey: String) -> String {
        primaryKey + "|p"
    }

    /// The parts this entry holds; `nil` for any other entry (or one that does not decode).
    public var storedParts: StoredParts? {
        guard status == 206, let etag, let layout = headers.first(Self.partsFieldName) else { return nil }
        return StoredParts(etag: etag, layout: layout, body: Array(body.readableBytesView))
    }

    /// An entry holding `parts` under `key`, with the most recent part's `headers` (RFC 9111
    /// §3.4) less its `Content-Range` and `Content-Length`.
    public static func partial(
        key: String, parts: StoredParts, headers: [HTTPField], timing: EntryTiming, lastModified: String?
    ) -> CacheEntry {
        var fields = headers.removing(["content-range", "content-length", partsFieldName])
        fields.append(HTTPField(name: "Paca-Parts", value: parts.layout))
        var body = ByteBufferAllocator().buffer(capacity: parts.byteCount)
        for segment in parts.segments { body.writeBytes(segment.bytes) }
        return CacheEntry(
            key: key, status: 206, headers: fields, body: body, timing: timing, etag: parts.etag, lastModified: lastModified)
    }
}
