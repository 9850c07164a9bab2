/// A token bucket that schedules warming requests within a rate: `reserve(at:)` says when the
/// next request may be sent, and counts it. Time is passed in (milliseconds on any monotonic
/// clock), so tests drive it without sleeping.
///
/// The bucket holds at most `burst` tokens and gains `ratePerSecond` tokens a second. A
/// reservation takes one token; when none is left it takes one in advance (the balance goes
/// negative) and returns the time the token will have accrued, so reservations made together are
/// spaced `1 / rate` apart. Over any interval of `t` seconds, at most `burst + rate × t` reserved
/// send times fall.
public struct TokenBucket: Sendable {
    /// Tokens gained per second (greater than 0).
    public let ratePerSecond: Double
    /// The most tokens held, so the largest burst after an idle period (at least 1).
    public let burst: Double
    /// Tokens held at `updatedAt`; negative when reservations are ahead of the rate.
    private var tokens: Double
    /// The time `tokens` was computed for.
    private var updatedAt: Double

    /// Creates a full bucket at time `now` (milliseconds). `ratePerSecond` must be above 0;
    /// `burst` defaults to 1 (no burst: requests evenly spaced).
    public init(ratePerSecond: Double, burst: Double = 1, now: Int64) {
        precondition(ratePerSecond > 0 && ratePerSecond.isFinite, "a token bucket needs a positive rate")
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        tokens = max(1, burst)
        updatedAt = Double(now)
    }

    /// Reserves one request at `now` and returns when it may be sent (milliseconds, never before
    /// `now`). Time running backwards is treated as no time passing.
    public mutating func reserve(at now: Int64) -> Int64 {
        let time = max(Double(now), updatedAt)
        tokens = min(burst, tokens + (time - updatedAt) * ratePerSecond / 1000)
        updatedAt = time
        tokens -= 1
        guard tokens < 0 else { return Int64(time) }
        // Rounded up, so a send never happens before its token has accrued.
        return Int64((time + -tokens * 1000 / ratePerSecond).rounded(.up))
    }
}
