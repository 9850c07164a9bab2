public import PacaCore

/// The popularity and sequence models together, fed by the same requests and saved to one file.
public struct WarmingModel: Sendable {
    /// Which keys are likely to be requested soon.
    public private(set) var popularity: PopularityModel
    /// Which keys follow which.
    public private(set) var sequence: SequenceModel

    /// Creates empty models.
    public init(
        popularity: PopularityModel.Configuration = .init(), sequence: SequenceModel.Configuration = .init()
    ) {
        self.popularity = PopularityModel(configuration: popularity)
        self.sequence = SequenceModel(configuration: sequence)
    }

    init(popularity: PopularityModel, sequence: SequenceModel) {
        self.popularity = popularity
        self.sequence = sequence
    }

    /// Records a request for `key` at `time` in both models; `url` is what to fetch to warm it.
    public mutating func observe(_ key: String, at time: UnixMillis, url: String? = nil) {
        popularity.observe(key, at: time, url: url)
        sequence.observe(key, at: time)
    }

    /// The keys that follow `key`, with their probabilities, most likely first.
    public func followers(of key: String) -> [(key: String, probability: Double)] {
        sequence.followers(of: key)
    }

    /// The followers of `key` at least `minimumLift` times more likely after it than by chance
    /// (see `SequenceModel.followers(of:minimumLift:)`).
    public func followers(of key: String, minimumLift: Double) -> [(key: String, probability: Double, lift: Double)] {
        sequence.followers(of: key, minimumLift: minimumLift)
    }
}
