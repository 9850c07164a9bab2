/// The response directives paca's shared cache follows, and the field they came from
/// (RFC 9213 §2.2).
///
/// The first field of the target list that is present, non-empty and a valid Dictionary wins,
/// and then `Cache-Control` and `Expires` are ignored for paca's decisions (they still reach the
/// client as sent). When no target qualifies — or the list is empty — `Cache-Control` and
/// `Expires` apply as RFC 9111 says.
public struct ResponseCacheDirectives: Sendable, Equatable {
    /// The directives in force.
    public var cacheControl: CacheControl
    /// The lowercased name of the targeted field in use; `nil` when `Cache-Control` applies.
    public var targetedField: String?

    /// Selects the directives of a response for a route whose target list is `targets`
    /// (lowercased field names, most specific first).
    public init(responseHeaders: [HTTPField], targets: [String]) {
        for target in targets {
            if let directives = TargetedCacheControl.directives(fieldValues: responseHeaders.values(target)) {
                self.cacheControl = directives
                self.targetedField = ASCII.lowercased(target)
                return
            }
        }
        self.cacheControl = CacheControl(headers: responseHeaders)
        self.targetedField = nil
    }

    /// Whether `Expires` counts for freshness: only without a targeted field (RFC 9213 §2.2).
    public var honoursExpires: Bool { targetedField == nil }

    /// The response fields freshness is computed from: without `Expires` when a targeted field
    /// is in force.
    public func freshnessFields(_ responseHeaders: [HTTPField]) -> [HTTPField] {
        honoursExpires ? responseHeaders : responseHeaders.removing(["expires"])
    }
}
