/// How the engine answers `only-if-cached` (RFC 9111 §5.2.1.7): with the stored response when
/// the lookup allows serving without the origin, otherwise with 504 (Gateway Timeout).
/// Returns `true` when a 504 is required. Call only when the request has `only-if-cached`.
public func onlyIfCachedRequires504(_ decision: LookupDecision?) -> Bool {
    guard let decision else { return true }
    switch decision {
    case .fresh, .staleWhileRevalidate, .staleAcceptable: return false
    case .revalidate: return true
    }
}
