import PacaCore
import PacaRedis
import Testing

@Suite("Circuit breaker state machine")
struct CircuitBreakerTests {
    enum Event: Sendable, CustomStringConvertible {
        case ask(at: UnixMillis, expect: CircuitBreaker.Permission)
        case success(at: UnixMillis, expect: CircuitBreaker.Transition?)
        case failure(at: UnixMillis, expect: CircuitBreaker.Transition?)
        /// The probe ended without a verdict (overloaded, shut down).
        case abandoned(at: UnixMillis)

        var description: String {
            switch self {
            case .ask(let at, let expect): "ask@\(at) -> \(expect)"
            case .success(let at, let expect): "success@\(at) -> \(String(describing: expect))"
            case .failure(let at, let expect): "failure@\(at) -> \(String(describing: expect))"
            case .abandoned(let at): "abandoned@\(at)"
            }
        }
    }

    /// Runs `events` against a breaker (threshold 3, open 5 s) and checks each result and the
    /// final state.
    private func run(_ events: [Event], finalState: CircuitBreaker.State, sourceLocation: SourceLocation = #_sourceLocation) {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: .seconds(5))
        for (step, event) in events.enumerated() {
            switch event {
            case .ask(let at, let expect):
                #expect(breaker.permission(now: at) == expect, "step \(step): \(event)", sourceLocation: sourceLocation)
            case .success(let at, let expect):
                #expect(breaker.recordSuccess(now: at) == expect, "step \(step): \(event)", sourceLocation: sourceLocation)
            case .failure(let at, let expect):
                #expect(breaker.recordFailure(now: at) == expect, "step \(step): \(event)", sourceLocation: sourceLocation)
            case .abandoned(let at):
                breaker.probeAbandoned(now: at)
            }
        }
        #expect(breaker.state == finalState, sourceLocation: sourceLocation)
    }

    @Test("a closed breaker lets everything through and forgets failures after a success")
    func closedCountsConsecutiveFailuresOnly() {
        run(
            [
                .ask(at: 0, expect: .proceed), .failure(at: 0, expect: nil), .failure(at: 1, expect: nil),
                .success(at: 2, expect: nil), .failure(at: 3, expect: nil), .failure(at: 4, expect: nil),
                .ask(at: 5, expect: .proceed),
            ], finalState: .closed)
    }

    @Test("the threshold-th consecutive failure opens it once; later failures change nothing")
    func opensAtThreshold() {
        run(
            [
                .failure(at: 10, expect: nil), .failure(at: 20, expect: nil),
                .failure(at: 30, expect: .opened(until: 5030, failures: 3)),
                .failure(at: 40, expect: nil), .success(at: 50, expect: nil),
                .ask(at: 60, expect: .skip), .ask(at: 5029, expect: .skip),
            ], finalState: .open(until: 5030))
    }

    @Test("after openDuration exactly one probe goes through; its success closes the breaker")
    func probeSuccessCloses() {
        run(
            [
                .failure(at: 0, expect: nil), .failure(at: 0, expect: nil), .failure(at: 0, expect: .opened(until: 5000, failures: 3)),
                .ask(at: 5000, expect: .probe), .ask(at: 5001, expect: .skip), .ask(at: 9000, expect: .skip),
                .success(at: 5002, expect: .closed), .ask(at: 5003, expect: .proceed),
                // Counting starts again from zero.
                .failure(at: 5004, expect: nil), .failure(at: 5005, expect: nil),
            ], finalState: .closed)
    }

    @Test("a failed probe opens it again for a full openDuration")
    func probeFailureReopens() {
        run(
            [
                .failure(at: 0, expect: nil), .failure(at: 0, expect: nil), .failure(at: 0, expect: .opened(until: 5000, failures: 3)),
                .ask(at: 7000, expect: .probe), .failure(at: 7050, expect: .reopened(until: 12050)),
                .ask(at: 12049, expect: .skip), .ask(at: 12050, expect: .probe),
            ], finalState: .halfOpen)
    }

    @Test("a probe that ends without a verdict lets the next operation probe at once")
    func abandonedProbeReleasesHalfOpen() {
        run(
            [
                .failure(at: 0, expect: nil), .failure(at: 0, expect: nil), .failure(at: 0, expect: .opened(until: 5000, failures: 3)),
                .ask(at: 5000, expect: .probe), .ask(at: 5001, expect: .skip),
                .abandoned(at: 5002),
                // Not stuck: the next operation probes, and its answer decides as usual.
                .ask(at: 5003, expect: .probe), .ask(at: 5004, expect: .skip),
                .success(at: 5005, expect: .closed), .ask(at: 5006, expect: .proceed),
            ], finalState: .closed)
    }

    @Test("after an abandoned probe, the next probe's failure reopens for a full openDuration")
    func abandonedThenFailedProbe() {
        run(
            [
                .failure(at: 0, expect: nil), .failure(at: 0, expect: nil), .failure(at: 0, expect: .opened(until: 5000, failures: 3)),
                .ask(at: 6000, expect: .probe), .abandoned(at: 6001), .abandoned(at: 6002),
                .ask(at: 6003, expect: .probe), .failure(at: 6004, expect: .reopened(until: 11004)),
                .ask(at: 11003, expect: .skip),
            ], finalState: .open(until: 11004))
    }

    @Test("probeAbandoned changes nothing when no probe is in flight")
    func abandonedOutsideHalfOpen() {
        run([.abandoned(at: 1), .ask(at: 2, expect: .proceed)], finalState: .closed)
        run(
            [
                .failure(at: 0, expect: nil), .failure(at: 0, expect: nil), .failure(at: 0, expect: .opened(until: 5000, failures: 3)),
                .abandoned(at: 10), .ask(at: 11, expect: .skip),
            ], finalState: .open(until: 5000))
    }

    @Test("state names are what breakerState reports")
    func stateNames() {
        var breaker = CircuitBreaker(failureThreshold: 1, openDuration: .milliseconds(10))
        #expect(breaker.stateName == "closed")
        _ = breaker.recordFailure(now: 0)
        #expect(breaker.stateName == "open")
        _ = breaker.permission(now: 10)
        #expect(breaker.stateName == "half-open")
    }
}
