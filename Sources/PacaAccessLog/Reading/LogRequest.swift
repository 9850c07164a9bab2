public import PacaCore

/// One request read back from a log, in any supported format. Fields a format does not carry
/// are `nil`.
public struct LogRequest: Sendable, Equatable {
    /// Request start, when the format has a time (paca JSON, combined, main).
    public var timestamp: UnixMillis?
    /// The request method (`GET` for plain traces).
    public var method: String
    /// The `Host` the client asked for, when logged.
    public var host: String?
    /// The request target as logged (for plain traces, the key).
    public var url: String
    /// The response status, when logged.
    public var status: Int?
    /// Body bytes sent (for plain traces, the object size).
    public var bytes: Int?
    /// Seconds of freshness the response had (paca JSON, plain traces with a third column).
    public var ttl: Int?
    /// paca's `cache` outcome (`hit`, `miss`, …), paca JSON only.
    public var cache: String?
    /// The route name, paca JSON only (`nil` when empty).
    public var route: String?
    /// The object's key, for plain traces only: other formats are keyed from `url` by the caller.
    public var key: String?

    /// Creates a request; every field but `method` and `url` defaults to `nil`.
    public init(
        timestamp: UnixMillis? = nil, method: String, host: String? = nil, url: String, status: Int? = nil,
        bytes: Int? = nil, ttl: Int? = nil, cache: String? = nil, route: String? = nil, key: String? = nil
    ) {
        self.timestamp = timestamp
        self.method = method
        self.host = host
        self.url = url
        self.status = status
        self.bytes = bytes
        self.ttl = ttl
        self.cache = cache
        self.route = route
        self.key = key
    }
}

/// The log formats `LogReader` understands.
public enum LogFormat: String, Sendable, CaseIterable {
    /// paca's access log: one JSON object per line (`AccessLogRecord`).
    case pacaJSON = "json"
    /// nginx/Apache `combined`: `addr ident user [time] "request" status bytes "referer" "agent"`.
    case combined
    /// nginx's default `main` (`combined` plus `"$http_x_forwarded_for"`) with `$request_time`
    /// appended.
    case nginxMain = "main"
    /// A plain cache trace of `key size [ttl]` lines, as cache simulators such as libCacheSim
    /// read them. Blank lines and lines starting with `#` are skipped.
    case trace
}

/// What a read counted.
public struct LogReadReport: Sendable, Equatable {
    /// Lines read, blank ones included, malformed ones included.
    public var lines: Int
    /// Lines that could not be parsed; they were skipped.
    public var malformed: Int
    /// The 1-based numbers of the first malformed lines (at most `LogReader.reportedMalformedLines`).
    public var firstMalformedLines: [Int]

    /// Creates a report.
    public init(lines: Int = 0, malformed: Int = 0, firstMalformedLines: [Int] = []) {
        self.lines = lines
        self.malformed = malformed
        self.firstMalformedLines = firstMalformedLines
    }
}
