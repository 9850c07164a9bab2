/// The time a replay runs on, as durations from a fixed origin: the real clock in
/// `paca replay`, a manual one in tests, so pacing is checked without waiting.
public protocol ReplayClock: Sendable {
    /// The time since the clock's origin.
    func now() -> Duration
    /// Returns once `now()` has reached `deadline`; throws when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

/// `ContinuousClock`, with its origin when created.
public struct ContinuousReplayClock: ReplayClock {
    private let origin = ContinuousClock.now

    /// Creates a clock whose origin is now.
    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin + deadline, tolerance: .milliseconds(1), clock: .continuous)
    }
}
