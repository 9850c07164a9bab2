import Foundation
public import PacaCore
import PacaStorage

/// Which keys are likely to be requested soon: fed with `(key, time)` observations, it scores a
/// key by the requests it predicts in the next few minutes at a given time, from decayed counts
/// at two time scales and an hour-of-week profile.
///
/// Time is always passed in (`UnixMillis`), never read from the system, so the model replays a
/// log on the log's clock and tests drive it without sleeping.
///
/// Memory is bounded: at most `capacity` keys are tracked (the top-K heavy hitters, about 0.8 KB
/// each). When the table is full a new key is admitted only if a count-min sketch (TinyLFU's
/// `FrequencySketch`) says it was requested more often lately than the key it would replace,
/// which is the tracked key with the lowest 24-hour score. One-hit wonders therefore never push
/// out a steady key.
///
/// The prediction for a window of `w` starting at `T` is
/// `w × max(¾ short-term rate + ¼ long-term rate, history rate × seasonality)`: the rate now,
/// weighted towards the last minutes, or the rate the key's hour-of-week history predicts,
/// whichever is higher (a key hot right now, or one about to be hot as every Monday at 9:00):
/// - the short- and long-term rates are the decayed counts over the (decayed) time they have
///   been accumulating: `half-life / ln 2` for an old key, its age for a young one, at least a
///   minute (short) and an hour (long). Recency is in them: a key idle for a few half-lives has
///   little of either;
/// - the history rate is the seasonal mass over the (decayed) time the key has been observed;
/// - seasonality is how much more of the key's requests fall in `[T, T + w)` than a flat profile
///   would put there (1: no pattern; 0: never at that hour). It blends the hour-of-day profile
///   (usable after a day) with the hour-of-week one (trusted as weeks accumulate), and is pulled
///   towards 1 while the key's history is short.
public struct PopularityModel: Sendable {
    /// The model's parameters.
    public struct Configuration: Sendable, Equatable, Codable {
        /// The most keys tracked at once (default 10,000).
        public var capacity: Int
        /// Half-life of the short-term count in milliseconds (default 5 minutes).
        public var shortHalfLife: Int64
        /// Half-life of the long-term count in milliseconds (default 6 hours).
        public var longHalfLife: Int64
        /// Half-life of the hour-of-week profile in milliseconds (default 14 days), so the
        /// pattern of past weeks fades.
        public var seasonalHalfLife: Int64
        /// The time zone of the hour-of-week buckets, as seconds east of UTC (default 0).
        public var utcOffsetSeconds: Int

        /// Creates a configuration; every parameter has the default stated on its property.
        public init(
            capacity: Int = 10_000, shortHalfLife: Int64 = 5 * 60_000, longHalfLife: Int64 = 6 * 3_600_000,
            seasonalHalfLife: Int64 = 14 * 86_400_000, utcOffsetSeconds: Int = 0
        ) {
            self.capacity = max(1, capacity)
            self.shortHalfLife = max(1, shortHalfLife)
            self.longHalfLife = max(1, longHalfLife)
            self.seasonalHalfLife = max(1, seasonalHalfLife)
            self.utcOffsetSeconds = utcOffsetSeconds
        }

        /// The hour of the week of `time`: 0 is Monday 00:00–01:00 in the configured zone.
        public func hourOfWeek(_ time: UnixMillis) -> Int {
            let hours = Self.floorDivide(time + Int64(utcOffsetSeconds) * 1000, 3_600_000)
            // 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
            return Int(((hours + 72) % 168 + 168) % 168)
        }

        static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
            a >= 0 ? a / b : -((-a + b - 1) / b)
        }
    }

    /// A key's score and the components it came from, as `paca warm --dry-run` prints them.
    public struct Prediction: Sendable, Equatable {
        /// The key.
        public var key: String
        /// The URL last requested under it, when known.
        public var url: String?
        /// The predicted number of requests in the window.
        public var score: Double
        /// The short-term decayed count at the time asked.
        public var shortTermCount: Double
        /// The long-term decayed count at the time asked.
        public var longTermCount: Double
        /// Milliseconds since the key's latest request (0 if it was requested at or after it).
        public var recency: Int64
        /// The seasonality factor for the window (1: no pattern).
        public var seasonality: Double
        /// Requests seen since the key was tracked.
        public var total: Int
    }

    /// The parameters.
    public let configuration: Configuration
    /// The tracked keys.
    public private(set) var keys: [String: KeyPopularity]
    /// Frequencies of all keys seen lately, tracked or not, for admission.
    private var sketch: FrequencySketch
    /// The next keys to evict, lowest 24-hour score first, computed in batches so that a full
    /// table does not rescan all its keys on every admission. A key requested since the batch
    /// was computed is skipped.
    private var victims: [(key: String, computedAt: UnixMillis)] = []
    /// Observations refused admission because the table was full.
    public private(set) var rejected = 0
    /// Keys evicted to make room.
    public private(set) var evicted = 0

    /// Creates an empty model.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        keys = [:]
        keys.reserveCapacity(min(configuration.capacity, 1 << 16))
        sketch = FrequencySketch(capacity: configuration.capacity)
    }

    /// Creates a model holding `keys` (at most `capacity` of them are kept, the most requested).
    init(configuration: Configuration, keys: [String: KeyPopularity]) {
        self.init(configuration: configuration)
        let kept =
            keys.count <= configuration.capacity
            ? Array(keys) : Array(keys.sorted { $0.value.total > $1.value.total }.prefix(configuration.capacity))
        for (key, stats) in kept { self.keys[key] = stats }
    }

    /// Records a request for `key` at `time`; `url` is what to fetch to warm it.
    /// Returns whether the key is tracked after this observation.
    @discardableResult
    public mutating func observe(_ key: String, at time: UnixMillis, url: String? = nil) -> Bool {
        sketch.increment(hash: key.hashValue)
        if keys[key] != nil {
            keys[key]!.record(at: time, url: url, configuration: configuration)
            return true
        }
        if keys.count >= configuration.capacity {
            guard let victim = nextVictim(at: time) else { return false }
            guard sketch.frequency(hash: key.hashValue) > sketch.frequency(hash: victim.hashValue) else {
                rejected += 1
                return false
            }
            keys[victim] = nil
            victims.removeFirst()
            evicted += 1
        }
        var stats = KeyPopularity(url: url, at: time)
        stats.record(at: time, url: url, configuration: configuration)
        keys[key] = stats
        return true
    }

    /// The key that would be evicted next: the lowest 24-hour score, from a batch of the lowest
    /// 1/16 of the table computed at most once per batch.
    private mutating func nextVictim(at time: UnixMillis) -> String? {
        while let first = victims.first {
            if let stats = keys[first.key], stats.lastSeen <= first.computedAt { return first.key }
            victims.removeFirst()
        }
        let batch = max(1, keys.count / 16)
        var ranked: [(key: String, score: Double)] = []
        ranked.reserveCapacity(keys.count)
        for (key, stats) in keys { ranked.append((key, score(stats, at: time, within: 86_400_000))) }
        ranked.sort { $0.score < $1.score || ($0.score == $1.score && $0.key < $1.key) }
        victims = ranked.prefix(batch).map { (key: $0.key, computedAt: time) }
        return victims.first?.key
    }

    /// The prediction for `key` over `[time, time + window)` (milliseconds), or `nil` when the
    /// key is not tracked.
    public func prediction(for key: String, at time: UnixMillis, within window: Int64) -> Prediction? {
        guard let stats = keys[key] else { return nil }
        return prediction(key, stats, at: time, within: window)
    }

    /// The `count` keys with the highest predicted requests over `[time, time + window)`,
    /// highest first (ties by key).
    public func top(_ count: Int, at time: UnixMillis, within window: Int64) -> [Prediction] {
        guard count > 0 else { return [] }
        let all = keys.map { prediction($0.key, $0.value, at: time, within: window) }
        return Array(all.sorted { $0.score > $1.score || ($0.score == $1.score && $0.key < $1.key) }.prefix(count))
    }

    private func prediction(_ key: String, _ stats: KeyPopularity, at time: UnixMillis, within window: Int64) -> Prediction {
        let seasonality = seasonality(stats, at: time, within: window)
        return Prediction(
            key: key, url: stats.url, score: score(stats, at: time, within: window, seasonality: seasonality),
            shortTermCount: stats.shortCount(at: time, configuration: configuration),
            longTermCount: stats.longCount(at: time, configuration: configuration),
            recency: max(0, time - stats.lastSeen), seasonality: seasonality, total: stats.total)
    }

    private func score(_ stats: KeyPopularity, at time: UnixMillis, within window: Int64, seasonality: Double? = nil) -> Double {
        let window = max(1, window)
        let shortRate =
            stats.shortCount(at: time, configuration: configuration)
            / Self.effectiveSpan(stats, at: time, halfLife: configuration.shortHalfLife, minimum: 60_000)
        let longRate =
            stats.longCount(at: time, configuration: configuration)
            / Self.effectiveSpan(stats, at: time, halfLife: configuration.longHalfLife, minimum: 3_600_000)
        let historyRate = Double(seasonalMass(stats, at: time)) / observedTime(stats, at: time)
        let factor = seasonality ?? self.seasonality(stats, at: time, within: window)

        return Double(window) * max(0.75 * shortRate + 0.25 * longRate, historyRate * factor)
    }

    /// The time a decayed count has been accumulating, weighted as the count is:
    /// `∫ 2^(−age / half-life)` over the key's life, at least `minimum` ms (one request is not a
    /// rate of one per millisecond). A young key's count is divided by its short life, an old
    /// key's by `half-life / ln 2`.
    static func effectiveSpan(_ stats: KeyPopularity, at time: UnixMillis, halfLife: Int64, minimum: Int64) -> Double {
        let age = Double(max(minimum, time - stats.firstSeen))
        let halfLife = Double(halfLife)
        return halfLife / 0.693_147_180_559_945_3 * (1 - exp2(-age / halfLife))
    }

    /// The seasonal mass at `time`.
    private func seasonalMass(_ stats: KeyPopularity, at time: UnixMillis) -> Float {
        stats.season.reduce(0, +) * Float(KeyPopularity.decay(time - stats.seasonAt, halfLife: configuration.seasonalHalfLife))
    }

    /// The decayed length of the key's history at `time` in milliseconds (at least a day, so a
    /// key seen for a moment does not get an enormous rate): `∫ 2^(−age / half-life)` over it.
    private func observedTime(_ stats: KeyPopularity, at time: UnixMillis) -> Double {
        let span = Double(max(86_400_000, time - stats.firstSeen))
        let halfLife = Double(configuration.seasonalHalfLife)
        return halfLife / 0.693_147_180_559_945_3 * (1 - exp2(-span / halfLife))
    }

    /// The seasonality factor of `[time, time + window)`, as described on the type.
    func seasonality(_ stats: KeyPopularity, at time: UnixMillis, within window: Int64) -> Double {
        let total = Double(stats.season.reduce(0, +))
        guard total > 0 else { return 1 }
        var daily = [Double](repeating: 0, count: 24)
        for (hour, mass) in stats.season.enumerated() { daily[hour % 24] += Double(mass) }
        // Average the profile's density (relative to flat) over the window, hour by hour; a
        // window longer than a week averages over the first week only.
        let window = max(1, min(window, 7 * 86_400_000))
        var dailySum = 0.0
        var weeklySum = 0.0
        var start = time
        let end = time + window
        while start < end {
            let hourStart = Configuration.floorDivide(start, 3_600_000) * 3_600_000
            let stop = min(end, hourStart + 3_600_000)
            let weight = Double(stop - start)
            let hour = configuration.hourOfWeek(start)
            dailySum += weight * daily[hour % 24] / total * 24
            weeklySum += weight * Double(stats.season[hour]) / total * 168
            start = stop
        }
        let span = Double(max(0, time - stats.firstSeen))
        let day = 86_400_000.0
        let weekTrust = span / (span + 7 * day)
        let dayTrust = span / (span + day)
        let profile = ((1 - weekTrust) * dailySum + weekTrust * weeklySum) / Double(window)
        return 1 + dayTrust * (profile - 1)
    }
}
