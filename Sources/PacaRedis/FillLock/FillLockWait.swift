public import PacaCore

/// The wait of a node on another node's fill, as a pure state machine: it is told what each
/// poll of the lock saw and how long the wait has lasted, and says when to poll next or how the
/// wait ends. No I/O and no clock inside, so every path is tested with a table of events.
///
/// Polls back off from `firstDelay`, doubling up to `maxDelay`, and never sleep past the
/// deadline: the last poll happens at `limit`, and a lock still held then ends the wait.
public struct FillLockWait: Sendable, Equatable {
    /// What one poll of the lock key saw.
    public enum Observation: Sendable, Equatable {
        /// A holder's token: the fill goes on.
        case held
        /// No lock: the fill ended (its entry, if stored, is in L3) or its holder's lock expired.
        case absent
        /// The pass marker: the fill's answer is not shared.
        case pass
        /// The poll failed (timeout, connection error, breaker open).
        case failed
    }

    /// What the waiter does next.
    public enum Action: Sendable, Equatable {
        /// Sleep this long, then poll again.
        case poll(after: Duration)
        /// Stop waiting.
        case finish(SharedFillWaitResult)
    }

    /// The longest wait.
    public let limit: Duration
    /// The first pause between polls. Default 2 ms.
    public let firstDelay: Duration
    /// The longest pause between polls. Default 25 ms.
    public let maxDelay: Duration
    private var nextDelay: Duration

    /// Creates a wait of at most `limit`.
    public init(limit: Duration, firstDelay: Duration = .milliseconds(2), maxDelay: Duration = .milliseconds(25)) {
        self.limit = limit
        self.firstDelay = firstDelay
        self.maxDelay = max(firstDelay, maxDelay)
        self.nextDelay = firstDelay
    }

    /// The poll that saw `observation` ended `elapsed` after the wait began.
    public mutating func observed(_ observation: Observation, elapsed: Duration) -> Action {
        switch observation {
        case .absent: return .finish(.released)
        case .pass: return .finish(.pass)
        case .failed: return .finish(.unavailable)
        case .held:
            guard elapsed < limit else { return .finish(.timedOut) }
            let delay = min(nextDelay, limit - elapsed)
            nextDelay = min(nextDelay * 2, maxDelay)
            return .poll(after: delay)
        }
    }
}
