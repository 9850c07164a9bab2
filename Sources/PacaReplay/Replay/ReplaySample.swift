/// Why a replayed request counts as an error.
public enum ReplayErrorKind: String, Sendable, CaseIterable, Codable {
    /// The connection could not be made.
    case connect
    /// The connect or total timeout ran out.
    case timeout
    /// The answer broke the protocol or the connection.
    case `protocol`
    /// The answer's status was 500 or more (its cache outcome is still counted).
    case status5xx = "status_5xx"
}

/// The result of one replayed request.
public struct ReplaySample: Sendable, Equatable {
    /// The route it counts under.
    public var route: String
    /// What the cache did, when an answer came back.
    public var outcome: ReplayOutcome?
    /// The answer's body bytes.
    public var bytes: Int
    /// Send to end of body, in milliseconds (connection errors included).
    public var latencyMilliseconds: Double
    /// Why it counts as an error, if it does.
    public var error: ReplayErrorKind?
    /// When it finished, in seconds from the start of the run.
    public var finishedAt: Double

    /// Creates a sample.
    public init(
        route: String, outcome: ReplayOutcome?, bytes: Int, latencyMilliseconds: Double, error: ReplayErrorKind?, finishedAt: Double
    ) {
        self.route = route
        self.outcome = outcome
        self.bytes = bytes
        self.latencyMilliseconds = latencyMilliseconds
        self.error = error
        self.finishedAt = finishedAt
    }

    /// The route of a logged request: the log's `route` when it has one, else the first segment
    /// of the path (`/api/users/1` → `api`; `/` → `/`).
    public static func route(logged: String?, url: String) -> String {
        if let logged, !logged.isEmpty { return logged }
        let path = ReplayTarget.pathAndQuery(url).split(separator: "?", maxSplits: 1).first ?? ""
        return path.split(separator: "/", omittingEmptySubsequences: true).first.map(String.init) ?? "/"
    }
}

/// Where replayed requests go: the target's base URL with the logged path and query.
public enum ReplayTarget {
    /// `base` without a trailing `/`, followed by the path and query of `logged`.
    public static func url(base: String, logged: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base + pathAndQuery(logged)
    }

    /// The path and query of a logged target: as is when it starts with `/`, the part after the
    /// authority of an absolute URL, else `/` prefixed (plain traces log bare keys).
    public static func pathAndQuery(_ logged: String) -> String {
        if logged.hasPrefix("/") { return logged }
        if let scheme = logged.range(of: "://") {
            let rest = logged[scheme.upperBound...]
            return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
        }
        return "/" + logged
    }
}
