public import PacaCore

/// One URL the planner wants warmed, and why.
public struct WarmJob: Sendable, Equatable {
    /// Why a URL is warmed; also its priority class (earlier cases first).
    public enum Reason: String, Sendable, CaseIterable, Comparable {
        /// Asked for through `POST /prewarm`.
        case manual
        /// A hot entry about to expire (refresh-ahead).
        case refresh
        /// Usually requested right after a URL that was just requested.
        case follower
        /// The predicted hot set after a restart.
        case startup
        /// Predicted to be requested soon (by recent traffic or the hour of the week).
        case predicted

        var rank: Int { Self.allCases.firstIndex(of: self)! }

        public static func < (lhs: Reason, rhs: Reason) -> Bool { lhs.rank < rhs.rank }
    }

    /// The model's key (the URL's primary cache key).
    public var key: String
    /// The request target to send.
    public var url: String
    /// The `Host` to send (from the key), or `nil` for the route's origin.
    public var host: String?
    /// How far the warming may go.
    public var mode: WarmRequest.Mode
    /// Why.
    public var reason: Reason
    /// Within a reason, higher goes first: the predicted requests or the probability.
    public var score: Double

    /// Creates a job.
    public init(key: String, url: String, host: String? = nil, mode: WarmRequest.Mode, reason: Reason, score: Double) {
        self.key = key
        self.url = url
        self.host = host
        self.mode = mode
        self.reason = reason
        self.score = score
    }

    /// The request that carries it out.
    public var request: WarmRequest { WarmRequest(url: url, host: host, mode: mode) }

    /// Whether `self` goes before `other`.
    func precedes(_ other: WarmJob) -> Bool {
        if reason != other.reason { return reason < other.reason }
        if score != other.score { return score > other.score }
        return key < other.key
    }

    /// The authority of a cache key (`v1|http://host:port|/path?query|fingerprint`), or `nil`
    /// when the key is not of that form.
    static func host(ofKey key: String) -> String? {
        let parts = key.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let schemeEnd = parts[1].range(of: "://") else { return nil }
        let authority = parts[1][schemeEnd.upperBound...]
        return authority.isEmpty ? nil : String(authority)
    }

    /// The primary key of a variant key (`primary|v:…`) or of kept 206 parts (`primary|p`), or
    /// the key itself.
    static func primaryKey(of key: String) -> String {
        if let marker = key.range(of: "|v:") { return String(key[..<marker.lowerBound]) }
        if key.hasSuffix("|p") { return String(key.dropLast(2)) }
        return key
    }
}
