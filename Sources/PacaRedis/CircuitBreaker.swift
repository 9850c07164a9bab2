public import PacaCore

/// Decides whether L3 is worth asking. A pure state machine: it takes `now` and returns what
/// happened, and its owner (holding a lock) logs transitions and performs I/O outside the lock.
///
/// After `failureThreshold` consecutive failures it opens for `openDuration`: every operation is
/// skipped. When that time has passed, the next operation is let through as the single probe
/// (half-open) while the others keep being skipped; the probe's success closes the breaker, its
/// failure opens it again. A probe that ends without a verdict (it was refused as `overloaded`,
/// or the pool was shutting down) must be reported with `probeAbandoned(now:)`, which lets the
/// next operation probe: otherwise the breaker would stay half-open, skipping everything, for
/// good.
public struct CircuitBreaker: Sendable, Equatable {
    /// Where the breaker stands.
    public enum State: Sendable, Equatable {
        /// Operations go through; failures are counted.
        case closed
        /// Operations are skipped until `until` (Unix ms).
        case open(until: UnixMillis)
        /// One probe is in flight; others are skipped until it reports.
        case halfOpen
    }

    /// What the owner should do with an operation it is about to start.
    public enum Permission: Sendable, Equatable {
        /// Run it.
        case proceed
        /// Run it as the probe (the breaker just left `open`).
        case probe
        /// Skip it: answer a miss, drop the write.
        case skip
    }

    /// A change of state the owner should log (once per change, never per failure).
    public enum Transition: Sendable, Equatable {
        /// Closed → open after `failures` consecutive failures; skipped until `until`.
        case opened(until: UnixMillis, failures: Int)
        /// The probe failed: open again until `until`.
        case reopened(until: UnixMillis)
        /// The probe (or any late success) closed the breaker.
        case closed
    }

    /// The current state.
    public private(set) var state: State = .closed
    /// Consecutive failures counted while closed.
    public private(set) var consecutiveFailures = 0
    /// Failures that open the breaker.
    public let failureThreshold: Int
    /// Milliseconds the breaker stays open.
    public let openMillis: Int64

    /// Creates a closed breaker.
    public init(failureThreshold: Int, openDuration: Duration) {
        self.failureThreshold = max(1, failureThreshold)
        self.openMillis = openDuration.milliseconds
    }

    /// Asks to start an operation at `now`.
    public mutating func permission(now: UnixMillis) -> Permission {
        switch state {
        case .closed:
            return .proceed
        case .open(let until):
            guard now >= until else { return .skip }
            state = .halfOpen
            return .probe
        case .halfOpen:
            return .skip
        }
    }

    /// Reports an operation that reached Redis and got an answer (including error replies such
    /// as OOM, which say the server is alive).
    public mutating func recordSuccess(now: UnixMillis) -> Transition? {
        consecutiveFailures = 0
        switch state {
        case .closed:
            return nil
        case .halfOpen:
            state = .closed
            return .closed
        case .open:
            // A late answer to an operation started before the breaker opened: the probe decides.
            return nil
        }
    }

    /// Reports a timeout or connection error.
    public mutating func recordFailure(now: UnixMillis) -> Transition? {
        switch state {
        case .closed:
            consecutiveFailures += 1
            guard consecutiveFailures >= failureThreshold else { return nil }
            let until = now + openMillis
            state = .open(until: until)
            return .opened(until: until, failures: consecutiveFailures)
        case .halfOpen:
            let until = now + openMillis
            state = .open(until: until)
            return .reopened(until: until)
        case .open:
            // Late failures of operations started before the breaker opened change nothing.
            return nil
        }
    }

    /// Reports that the probe ended without saying anything about Redis (refused by a full
    /// queue, or the pool shut down): the breaker stays open but is due at once, so the next
    /// operation becomes the probe. Does nothing unless a probe is in flight.
    public mutating func probeAbandoned(now: UnixMillis) {
        guard case .halfOpen = state else { return }
        state = .open(until: now)
    }

    /// `closed`, `open` or `half-open`.
    public var stateName: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half-open"
        }
    }
}
