import Foundation
public import PacaCore

/// A first-order sequence model: after a request for A, which keys follow within a few seconds,
/// and how often. `followers(of:)` answers with `P(B follows | A requested)`.
///
/// The model sees one stream of requests (all clients together), so "B follows A" means B was
/// requested within `window` after A, with at most `lookback` requests in between. Memory is
/// bounded: at most `capacity` source keys (the least requested one is dropped when a new one
/// needs room, found in batches of 1/16 of the table) and `followersPerKey` followers each (a
/// space-saving summary: a new follower replaces the least frequent one and inherits its count as
/// its possible error, so a frequent follower is never missed, and probabilities are computed
/// from the guaranteed count, never over-stated).
public struct SequenceModel: Sendable {
    /// The model's parameters.
    public struct Configuration: Sendable, Equatable, Codable {
        /// The most source keys tracked (default 10,000).
        public var capacity: Int
        /// The most followers kept per key (default 8).
        public var followersPerKey: Int
        /// How soon after A a request counts as following it, in milliseconds (default 5 s).
        public var window: Int64
        /// How many preceding requests a request may follow (default 4).
        public var lookback: Int

        /// Creates a configuration; every parameter has the default stated on its property.
        public init(capacity: Int = 10_000, followersPerKey: Int = 8, window: Int64 = 5_000, lookback: Int = 4) {
            self.capacity = max(1, capacity)
            self.followersPerKey = max(1, followersPerKey)
            self.window = max(0, window)
            self.lookback = max(1, lookback)
        }
    }

    /// One source key's record.
    struct Source: Sendable, Equatable, Codable {
        /// Requests of the source seen while tracked.
        var occurrences: Int
        /// Follower key and how many times it followed.
        var followers: [String: Follower]
    }

    /// A follower's count in a space-saving summary.
    struct Follower: Sendable, Equatable, Codable {
        /// Times counted, including `error`.
        var count: Int
        /// The count inherited from the follower it replaced: the most `count` may over-state.
        var error: Int
    }

    /// The parameters.
    public let configuration: Configuration
    /// Tracked source keys.
    private(set) var sources: [String: Source]
    /// The latest requests, oldest first, at most `lookback`.
    private var recent: [(key: String, time: UnixMillis)] = []
    /// Requests observed, for the base rate of a follower.
    private(set) var observations = 0
    /// Sources to drop next, fewest occurrences first.
    private var victims: [String] = []

    /// Creates an empty model.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        sources = [:]
    }

    init(configuration: Configuration, sources: [String: Source]) {
        self.configuration = configuration
        self.sources = [:]
        let kept =
            sources.count <= configuration.capacity
            ? Array(sources) : Array(sources.sorted { $0.value.occurrences > $1.value.occurrences }.prefix(configuration.capacity))
        for (key, source) in kept { self.sources[key] = source }
        observations = sources.values.reduce(0) { $0 + $1.occurrences }
    }

    /// The number of source keys tracked.
    public var count: Int { sources.count }

    /// Records a request for `key` at `time`.
    public mutating func observe(_ key: String, at time: UnixMillis) {
        var credited: Set<String> = []
        for previous in recent.reversed() where previous.key != key && time - previous.time <= configuration.window {
            guard credited.insert(previous.key).inserted else { continue }
            sources[previous.key]?.addFollower(key, limit: configuration.followersPerKey)
        }
        if sources[key] != nil {
            sources[key]!.occurrences += 1
        } else {
            if sources.count >= configuration.capacity { dropLeastRequested() }
            sources[key] = Source(occurrences: 1, followers: [:])
        }
        observations += 1
        recent.append((key, time))
        if recent.count > configuration.lookback { recent.removeFirst() }
    }

    private mutating func dropLeastRequested() {
        while let victim = victims.popLast() {
            if sources.removeValue(forKey: victim) != nil { return }
        }
        // Most occurrences first, so the least requested pops from the end.
        let batch = max(1, sources.count / 16)
        victims = Array(
            sources.sorted {
                $0.value.occurrences < $1.value.occurrences || ($0.value.occurrences == $1.value.occurrences && $0.key < $1.key)
            }
            .prefix(batch).map(\.key).reversed())
        if let victim = victims.popLast() { sources[victim] = nil }
    }

    /// The keys that followed `key`, with the probability that each follows a request for it,
    /// most likely first (ties by key). Empty when `key` is not tracked.
    public func followers(of key: String) -> [(key: String, probability: Double)] {
        guard let source = sources[key], source.occurrences > 0 else { return [] }
        return source.followers.compactMap { key, follower in
            let guaranteed = follower.count - follower.error
            return guaranteed > 0 ? (key: key, probability: min(1, Double(guaranteed) / Double(source.occurrences))) : nil
        }
        .sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }
}

extension SequenceModel {
    /// The followers of `key` that follow it at least `minimumLift` times more often than they
    /// would by chance, with their probability and that lift, most likely first.
    ///
    /// On a stream of many clients a popular key "follows" everything; the lift compares
    /// `P(B follows A)` with the chance that B is among any `lookback` requests
    /// (`1 − (1 − share of B)^lookback`), so only real sequences stand out. A follower that is
    /// not tracked as a source itself is assumed to be rare (lift computed from one request). A
    /// rare key that followed once has a high lift on little evidence: combine the lift with a
    /// floor on the probability (`paca warm` shows followers of at least 10% and lift 2).
    public func followers(of key: String, minimumLift: Double) -> [(key: String, probability: Double, lift: Double)] {
        guard observations > 0 else { return [] }
        return followers(of: key).compactMap { follower in
            let share = Double(sources[follower.key]?.occurrences ?? 1) / Double(observations)
            let chance = 1 - pow(1 - min(1, share), Double(configuration.lookback))
            let lift = chance > 0 ? follower.probability / chance : .infinity
            return lift >= minimumLift ? (follower.key, follower.probability, lift) : nil
        }
    }
}

extension SequenceModel.Source {
    mutating func addFollower(_ key: String, limit: Int) {
        if followers[key] != nil {
            followers[key]!.count += 1
        } else if followers.count < limit {
            followers[key] = SequenceModel.Follower(count: 1, error: 0)
        } else if let least = followers.min(by: { $0.value.count < $1.value.count || ($0.value.count == $1.value.count && $0.key > $1.key) }
        ) {
            followers[least.key] = nil
            followers[key] = SequenceModel.Follower(count: least.value.count + 1, error: least.value.count)
        }
    }
}
