/// The argument of the `max-stale` request directive (RFC 9111 §5.2.1.2).
public enum MaxStale: Sendable, Equatable {
    /// `max-stale` without an argument: the client accepts a stale response of any staleness.
    case unlimited
    /// `max-stale=N`: the client accepts a response stale by at most N seconds.
    case seconds(Int64)

    /// Whether a response stale by `stalenessMillis` is acceptable under this limit.
    public func allows(stalenessMillis: Int64) -> Bool {
        switch self {
        case .unlimited: return true
        case .seconds(let s): return stalenessMillis <= DeltaSeconds.millis(s)
        }
    }
}
