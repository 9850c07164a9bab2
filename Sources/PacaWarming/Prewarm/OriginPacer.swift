public import PacaCore

/// Paces warming requests to the origin: at most `maxRequestsPerSecond` (sends are spaced at
/// least `1 / rate` apart, so no window of `t` seconds holds more than `rate × t + 1`), at most
/// `maxConcurrency` in flight, and slower when the origin struggles.
///
/// Back-off is multiplicative: an error (a failure or a 5xx) halves the pace and pauses warming
/// for a delay that doubles with each consecutive error (1 s up to 60 s); an origin whose recent
/// latency is over three times its usual latency halves the pace too (at most once a second).
/// Each success gives back a tenth of the full rate. The pace never falls below 1/64.
public struct OriginPacer: Sendable {
    /// The state of the pace.
    public enum Condition: String, Sendable, Equatable {
        /// At the configured rate.
        case full
        /// Slowed by errors or latency; recovering.
        case reduced
        /// Paused after an error until `pausedUntil`.
        case paused
    }

    /// The most warming requests per second.
    public let maxRequestsPerSecond: Double
    /// The most warming requests in flight.
    public let maxConcurrency: Int
    /// The share of the full rate in use (1/64 through 1).
    public private(set) var pace: Double = 1
    /// No send before this time.
    public private(set) var nextSendAt: UnixMillis = .min
    /// Paused until this time after an error.
    public private(set) var pausedUntil: UnixMillis = .min
    /// Errors in a row.
    public private(set) var consecutiveErrors = 0
    /// How many times the pace was cut (errors and slowdowns).
    public private(set) var backoffs = 0
    /// The origin's usual latency (slow moving average, ms) and its recent one (fast).
    public private(set) var usualLatency: Double?
    public private(set) var recentLatency: Double?
    private var latencySamples = 0
    private var lastSlowdownCut: UnixMillis?

    static let minimumPace = 1.0 / 64

    /// Creates a pacer at full pace.
    public init(maxRequestsPerSecond: Double, maxConcurrency: Int) {
        self.maxRequestsPerSecond = max(0.001, maxRequestsPerSecond)
        self.maxConcurrency = max(1, maxConcurrency)
    }

    /// The rate in force (requests per second).
    public var rate: Double { maxRequestsPerSecond * pace }

    /// The state of the pace at `now`.
    public func condition(at now: UnixMillis) -> Condition {
        if now < pausedUntil { return .paused }
        return pace < 1 ? .reduced : .full
    }

    /// Whether a request may be sent at `now` with `inFlight` already out.
    public func maySend(at now: UnixMillis, inFlight: Int) -> Bool {
        inFlight < maxConcurrency && now >= nextSendAt && now >= pausedUntil
    }

    /// The earliest time a send may happen (ignoring concurrency).
    public var earliestSend: UnixMillis { max(nextSendAt, pausedUntil) }

    /// Counts a send at `now`.
    public mutating func sent(at now: UnixMillis) {
        let spacing = Int64((1000 / rate).rounded(.up))
        nextSendAt = max(nextSendAt, now) + max(1, spacing)
    }

    /// A warming request succeeded in `originMillis`.
    public mutating func succeeded(originMillis: Double?, at now: UnixMillis) {
        consecutiveErrors = 0
        pace = min(1, pace + 0.1)
        if let originMillis { noteLatency(originMillis, at: now) }
    }

    /// A warming request failed (or the origin answered 5xx).
    public mutating func failed(at now: UnixMillis) {
        consecutiveErrors += 1
        backoffs += 1
        pace = max(Self.minimumPace, pace / 2)
        let delay = min(60_000, 1000 << min(6, consecutiveErrors - 1))
        pausedUntil = max(pausedUntil, now + Int64(delay))
    }

    /// An origin latency seen by warming or by a client's miss; cuts the pace when the recent
    /// latency is over three times the usual one.
    public mutating func noteLatency(_ millis: Double, at now: UnixMillis) {
        guard millis.isFinite, millis >= 0 else { return }
        latencySamples += 1
        usualLatency = usualLatency.map { $0 + (millis - $0) * 0.01 } ?? millis
        recentLatency = recentLatency.map { $0 + (millis - $0) * 0.2 } ?? millis
        guard latencySamples >= 20, let usual = usualLatency, let recent = recentLatency, recent > max(3 * usual, 20),
            lastSlowdownCut.map({ now - $0 >= 1000 }) ?? true
        else { return }
        lastSlowdownCut = now
        backoffs += 1
        pace = max(Self.minimumPace, pace / 2)
    }
}
