import PacaCore
import Testing

@testable import PacaRedis

/// The wait on another node's fill, as a table of poll observations and the actions they lead to.
@Suite("Waiting on another node's fill (state machine)")
struct FillLockWaitTests {
    @Test("a held lock is polled again with a doubling pause, capped, and never past the deadline")
    func backOff() {
        var wait = FillLockWait(limit: .milliseconds(100), firstDelay: .milliseconds(2), maxDelay: .milliseconds(25))
        let table: [(Duration, FillLockWait.Action)] = [
            (.zero, .poll(after: .milliseconds(2))),
            (.milliseconds(3), .poll(after: .milliseconds(4))),
            (.milliseconds(8), .poll(after: .milliseconds(8))),
            (.milliseconds(17), .poll(after: .milliseconds(16))),
            (.milliseconds(34), .poll(after: .milliseconds(25))),
            (.milliseconds(60), .poll(after: .milliseconds(25))),
            // 10 ms before the deadline: the pause shrinks so the last poll lands on it.
            (.milliseconds(90), .poll(after: .milliseconds(10))),
            (.milliseconds(100), .finish(.timedOut)),
        ]
        for (elapsed, expected) in table {
            #expect(wait.observed(.held, elapsed: elapsed) == expected, "at \(elapsed)")
        }
    }

    @Test(
        "a free lock, a pass marker or a failed poll end the wait at once, whatever the time",
        arguments: [
            (FillLockWait.Observation.absent, SharedFillWaitResult.released),
            (.pass, .pass),
            (.failed, .unavailable),
        ])
    func endings(observation: FillLockWait.Observation, result: SharedFillWaitResult) {
        for elapsed in [Duration.zero, .milliseconds(50), .seconds(10)] {
            var wait = FillLockWait(limit: .milliseconds(100))
            #expect(wait.observed(observation, elapsed: elapsed) == .finish(result))
        }
    }

    @Test("a held lock past the limit times out even on the first poll")
    func lateFirstPoll() {
        var wait = FillLockWait(limit: .milliseconds(100))
        #expect(wait.observed(.held, elapsed: .milliseconds(150)) == .finish(.timedOut))
    }
}
