import Foundation
public import PacaCore

/// What the model knows about one tracked key: decayed request counts at two time scales, when
/// it was first and last requested, and its hour-of-week profile.
///
/// Counts are stored with the time they were last brought up to date; reading them at a later
/// time decays them (`count × 2^(−Δt / half-life)`), so an observation costs O(1) and nothing runs
/// in the background. The 168 seasonal buckets share one reference time and are decayed together
/// at most once an hour per key; in between, a new request adds slightly more than 1, the weight
/// it will have after the next decay.
public struct KeyPopularity: Sendable, Equatable {
    /// The URL last requested under this key, when the caller gave one (for warming by GET).
    public var url: String?
    /// The short-scale count at `updatedAt`.
    public var shortCount: Double
    /// The long-scale count at `updatedAt`.
    public var longCount: Double
    /// When `shortCount` and `longCount` were last brought up to date.
    public var updatedAt: UnixMillis
    /// The first request seen.
    public var firstSeen: UnixMillis
    /// The latest request seen.
    public var lastSeen: UnixMillis
    /// Requests seen since the key was tracked, undecayed.
    public var total: Int
    /// Requests per hour of the week (bucket 0 is Monday 00:00 in the model's time zone),
    /// decayed at the seasonal half-life, valued at `seasonAt`.
    public var season: [Float]
    /// The reference time of `season`.
    public var seasonAt: UnixMillis

    /// Creates the record of a key first requested at `time`, with no requests counted yet.
    init(url: String?, at time: UnixMillis) {
        self.url = url
        shortCount = 0
        longCount = 0
        updatedAt = time
        firstSeen = time
        lastSeen = time
        total = 0
        season = Array(repeating: 0, count: 168)
        seasonAt = time
    }

    /// `2^(−elapsed / halfLife)`; time running backwards (an unordered log) decays nothing.
    @inline(__always)
    static func decay(_ elapsed: Int64, halfLife: Int64) -> Double {
        elapsed <= 0 ? 1 : exp2(-Double(elapsed) / Double(halfLife))
    }

    /// Counts one request at `time`.
    mutating func record(at time: UnixMillis, url: String?, configuration: PopularityModel.Configuration) {
        let elapsed = time - updatedAt
        shortCount = shortCount * Self.decay(elapsed, halfLife: configuration.shortHalfLife) + 1
        longCount = longCount * Self.decay(elapsed, halfLife: configuration.longHalfLife) + 1
        if elapsed > 0 { updatedAt = time }
        if time - seasonAt >= 3_600_000 {
            let factor = Float(Self.decay(time - seasonAt, halfLife: configuration.seasonalHalfLife))
            for index in season.indices { season[index] *= factor }
            seasonAt = time
        }
        let bucket = configuration.hourOfWeek(time)
        season[bucket] += Float(1 / Self.decay(time - seasonAt, halfLife: configuration.seasonalHalfLife))
        firstSeen = min(firstSeen, time)
        lastSeen = max(lastSeen, time)
        total += 1
        if let url { self.url = url }
    }

    /// The short-scale count at `time`.
    func shortCount(at time: UnixMillis, configuration: PopularityModel.Configuration) -> Double {
        shortCount * Self.decay(time - updatedAt, halfLife: configuration.shortHalfLife)
    }

    /// The long-scale count at `time`.
    func longCount(at time: UnixMillis, configuration: PopularityModel.Configuration) -> Double {
        longCount * Self.decay(time - updatedAt, halfLife: configuration.longHalfLife)
    }
}
