/// Builds paca's member of the `Cache-Status` field (RFC 9211). The origin's own members, if
/// any, stay in their own field line before ours, which keeps them first in the combined list.
public enum CacheStatusField {
    /// The field name.
    public static let name = "Cache-Status"

    /// `paca; fwd=REASON; fwd-status=S[; collapsed][; stored][; ttl=N][; detail=D]`
    public static func forward(
        _ reason: String, status: Int, stored: Bool = false, collapsed: Bool = false, ttlSeconds: Int64? = nil, detail: String? = nil
    ) -> String {
        var value = "paca; fwd=\(reason); fwd-status=\(status)"
        if collapsed { value += "; collapsed" }
        if stored { value += "; stored" }
        if let ttlSeconds { value += "; ttl=\(ttlSeconds)" }
        if let detail { value += "; detail=\(detail)" }
        return value
    }

    /// `paca; fwd=bypass; detail=REASON` (with `fwd-status` once the origin answered).
    public static func bypass(detail: String, status: Int?) -> String {
        var value = "paca; fwd=bypass"
        if let status { value += "; fwd-status=\(status)" }
        value += "; detail=\(detail)"
        return value
    }
}
