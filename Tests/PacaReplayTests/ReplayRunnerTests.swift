import Foundation
import NIOCore
import NIOPosix
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaReplay
import Synchronization
import Testing

/// Requests that reached the client, and tasks waiting for a count of them.
private final class Arrivals: Sendable {
    private let state = Mutex<(count: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

    /// Counts one arrival and returns its index.
    func arrive() -> Int {
        let (index, ready) = state.withLock { state in
            state.count += 1
            let ready = state.waiters.filter { $0.0 <= state.count }.map(\.1)
            state.waiters.removeAll { $0.0 <= state.count }
            return (state.count - 1, ready)
        }
        for continuation in ready { continuation.resume() }
        return index
    }

    /// Returns once `count` requests have arrived.
    func wait(for count: Int) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Virtual time: sleeping jumps straight to the deadline, so a paced run takes no wall time and
/// its send times are exact. The runner sleeps once before each paced request, so before its
/// k-th jump the clock waits for the k requests dispatched earlier to reach the client: each is
/// seen at the time it was due, however the child tasks are scheduled.
private final class JumpingClock: ReplayClock {
    private let state = Mutex<(now: Duration, sleeps: Int)>((.zero, 0))
    let arrivals = Arrivals()

    func now() -> Duration { state.withLock { $0.now } }

    func sleep(until deadline: Duration) async throws {
        let dispatched = state.withLock { state in
            defer { state.sleeps += 1 }
            return state.sleeps
        }
        await arrivals.wait(for: dispatched)
        state.withLock { $0.now = max($0.now, deadline) }
    }
}

/// Answers at once, alternating an L2 hit and a miss, and records when each URL was sent.
private final class RecordingClient: OriginClient {
    let clock: JumpingClock
    private let sent = Mutex<[Int: (url: String, at: Duration)]>([:])

    init(clock: JumpingClock) { self.clock = clock }

    var sends: [(url: String, at: Duration)] { sent.withLock { $0 }.sorted { $0.key < $1.key }.map(\.value) }

    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        let at = clock.now()
        let index = clock.arrivals.arrive()
        sent.withLock { $0[index] = (request.url, at) }
        let status = index % 2 == 0 ? "paca; hit; ttl=10; detail=l2" : "paca; fwd=uri-miss; fwd-status=200; stored; ttl=10"
        let response = OriginResponse(
            status: 200, headers: [HTTPField(name: "Cache-Status", value: status)], body: ByteBuffer(string: "0123456789"),
            requestTime: 0, responseTime: 0)
        return eventLoop.makeSucceededFuture(response.streaming(on: eventLoop))
    }
}

@Suite("Replay runner on an injected clock")
struct ReplayRunnerTests {
    /// A paca JSON log whose lines are logged at `offsets` milliseconds (a POST among them).
    private func log(offsets: [Int]) throws -> String {
        let path = NSTemporaryDirectory() + "paca-replay-runner-" + UUID().uuidString + ".log"
        var lines = offsets.enumerated().map { index, offset in
            let seconds = String(format: "%02d.%03d", offset / 1000, offset % 1000)
            return
                #"{"ts":"2025-01-15T12:00:\#(seconds)Z","method":"GET","host":"h","url":"/r\#(index)/x?q=\#(index)","route":"","status":200,"bytes":10,"cache":"miss","tier":null,"ttl":60,"collapsed":false,"key":"k","ms":1.0,"client":"c"}"#
        }
        lines.insert(
            #"{"ts":"2025-01-15T12:00:00.100Z","method":"POST","host":"h","url":"/post","route":"","status":201,"bytes":1,"cache":"pass","tier":null,"ttl":null,"collapsed":false,"key":"k","ms":1.0,"client":"c"}"#,
            at: 1)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func replay(
        offsets: [Int], pacing: ReplayPacing, limit: Int? = nil, duration: Duration? = nil
    ) async throws -> (sends: [(url: String, at: Duration)], tally: ReplayTally, seconds: Double) {
        let path = try log(offsets: offsets)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = JumpingClock()
        let client = RecordingClient(clock: clock)
        let runner = ReplayRunner(
            configuration: .init(target: "http://cache:8080/", pacing: pacing, limit: limit, duration: duration), client: client,
            eventLoops: group, clock: clock)
        let result = try await runner.run(LogRequestWindow(reader: try LogReader(path: path), capacity: 2))
        try await group.shutdownGracefully()
        return (client.sends, result.tally, result.seconds)
    }

    @Test("--speed 2 sends each request at half its logged offset, exactly, and skips the POST")
    func speedScalesTiming() async throws {
        let run = try await replay(offsets: [0, 1000, 1500, 4000], pacing: .speed(2))
        #expect(run.sends.map(\.at) == [.zero, .milliseconds(500), .milliseconds(750), .seconds(2)])
        #expect(run.sends.map(\.url) == (0..<4).map { "http://cache:8080/r\($0)/x?q=\($0)" })
        #expect(run.seconds == 2)
        #expect(run.tally.total.requests == 4 && run.tally.total.hitRatio == 0.5 && run.tally.total.originFetches == 2)
        #expect(run.tally.total.outcomes[.l2] == 2 && run.tally.total.bytes == 40)
        #expect(Set(run.tally.routes.keys) == ["r0", "r1", "r2", "r3"])
    }

    @Test("--rate spaces requests evenly; --duration stops sending at its deadline; --limit after N")
    func rateDurationLimit() async throws {
        let rate = try await replay(offsets: [0, 0, 0, 0, 0], pacing: .rate(10))
        #expect(rate.sends.map(\.at) == (0..<5).map { .milliseconds(100 * $0) })
        let bounded = try await replay(offsets: [0, 1000, 1500, 4000], pacing: .speed(2), duration: .seconds(1))
        #expect(bounded.sends.map(\.at) == [.zero, .milliseconds(500), .milliseconds(750)])
        let limited = try await replay(offsets: Array(repeating: 0, count: 50), pacing: .concurrency(3), limit: 7)
        #expect(limited.sends.count == 7 && limited.tally.total.requests == 7)
    }
}
