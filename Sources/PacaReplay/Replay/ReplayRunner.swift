import Foundation
public import NIOCore
import PacaAccessLog
public import PacaCore
import PacaHTTPCaching
import Synchronization

/// Sends a log's GET and HEAD requests to a target through the project's `OriginClient` (libcurl
/// in `paca replay`), paced by a `ReplaySchedule`, and counts what the cache did with each.
public final class ReplayRunner: Sendable {
    /// What a run does.
    public struct Configuration: Sendable {
        /// The base URL requests go to (`http://127.0.0.1:8080`); each gets the logged path and query.
        public var target: String
        /// How requests are spaced.
        public var pacing: ReplayPacing
        /// Stop after this many requests (default: the whole log).
        public var limit: Int?
        /// Stop sending after this long (default: no bound).
        public var duration: Duration?
        /// The limit of one exchange (default 30 s); 5 s to connect.
        public var timeout: Duration
        /// Requests in flight at most in open loop (`speed`, `rate`; default 1024): beyond it the
        /// target is too slow for the pace and sending waits.
        public var maxInFlight: Int

        /// Creates a configuration; see each field for its default.
        public init(
            target: String, pacing: ReplayPacing, limit: Int? = nil, duration: Duration? = nil, timeout: Duration = .seconds(30),
            maxInFlight: Int = 1024
        ) {
            self.target = target
            self.pacing = pacing
            self.limit = limit
            self.duration = duration
            self.timeout = timeout
            self.maxInFlight = maxInFlight
        }
    }

    /// A moment of a run, for the progress display.
    public struct Progress: Sendable {
        /// Requests finished.
        public var finished: Int
        /// Hits among the answers so far.
        public var hitRatio: Double
        /// Errors so far.
        public var errors: Int
        /// Seconds since the start.
        public var elapsed: Double
    }

    /// The configuration.
    public let configuration: Configuration
    private let client: any OriginClient
    private let eventLoops: any EventLoopGroup
    private let clock: any ReplayClock
    private let tally = Mutex(ReplayTally())
    private let started = Mutex<Duration?>(nil)

    /// A runner sending through `client` on `eventLoops`, paced by `clock` (default the real one).
    public init(
        configuration: Configuration, client: any OriginClient, eventLoops: any EventLoopGroup,
        clock: any ReplayClock = ContinuousReplayClock()
    ) {
        self.configuration = configuration
        self.client = client
        self.eventLoops = eventLoops
        self.clock = clock
    }

    /// The counts so far.
    public var progress: Progress {
        let elapsed = started.withLock { $0.map { clock.now() - $0 } } ?? .zero
        return tally.withLock { tally in
            Progress(
                finished: tally.total.requests, hitRatio: tally.total.hitRatio, errors: tally.total.errorCount,
                elapsed: elapsed.seconds)
        }
    }

    /// Replays `window`'s requests and returns the counts and the wall seconds the run took.
    /// Throws the log reader's error (a file that cannot be read further).
    public func run(_ window: LogRequestWindow) async throws -> (tally: ReplayTally, seconds: Double) {
        let start = clock.now()
        started.withLock { $0 = start }
        defer { window.stop() }
        var schedule = ReplaySchedule(pacing: configuration.pacing)
        let cap: Int
        if case .concurrency(let count) = configuration.pacing { cap = count } else { cap = configuration.maxInFlight }
        let deadline = configuration.duration.map { start + $0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var sent = 0
            while configuration.limit.map({ sent < $0 }) ?? true {
                if let deadline, clock.now() >= deadline { break }
                guard let request = try await window.next() else { break }
                // In open loop a request's latency runs from when it was due (and read), so time
                // spent waiting for a slot of `maxInFlight` behind a slow target counts against
                // the target, not hidden (coordinated omission). A closed loop has no due time.
                var due: Duration?
                if let offset = schedule.nextDue(timestamp: request.timestamp) {
                    var wake = start + offset
                    if let deadline, wake > deadline { wake = deadline }
                    due = max(wake, clock.now())
                    try await clock.sleep(until: wake)
                    if let deadline, clock.now() >= deadline { break }
                }
                while inFlight >= cap {
                    try await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                sent += 1
                group.addTask { [due] in await self.send(request, start: start, due: due) }
            }
            window.stop()
            try await group.waitForAll()
        }
        let seconds = (clock.now() - start).seconds
        return (tally.withLock { $0 }, seconds)
    }

    private func send(_ logged: LogRequest, start: Duration, due: Duration?) async {
        let route = ReplaySample.route(logged: logged.route, url: logged.url)
        let request = OriginRequest(
            method: logged.method, url: ReplayTarget.url(base: configuration.target, logged: logged.url),
            totalTimeout: configuration.timeout)
        let sentAt = due ?? clock.now()
        var outcome: ReplayOutcome?
        var bytes = 0
        var failure: ReplayErrorKind?
        do {
            let answer = try await exchange(request)
            outcome = ReplayOutcome.classify(cacheStatus: answer.cacheStatus)
            bytes = answer.bytes
            if answer.status >= 500 { failure = .status5xx }
        } catch let error as OriginError {
            switch error {
            case .connectFailed: failure = .connect
            case .timedOut: failure = .timeout
            case .protocolError, .responseTooLarge, .shutDown: failure = .protocol
            }
        } catch {
            // Anything else broke the exchange itself (a body cut short).
            failure = .protocol
        }
        let finished = clock.now()
        let sample = ReplaySample(
            route: route, outcome: outcome, bytes: bytes, latencyMilliseconds: (finished - sentAt).seconds * 1000,
            error: failure, finishedAt: (finished - start).seconds)
        tally.withLock { $0.record(sample) }
    }

    private struct Answer {
        var status: Int
        var cacheStatus: [String]
        var bytes: Int
    }

    /// Streams the answer and counts its body without keeping it.
    private func exchange(_ request: OriginRequest) async throws -> Answer {
        let eventLoop = eventLoops.next()
        let head = try await client.stream(request, on: eventLoop).get()
        let promise = eventLoop.makePromise(of: Int.self)
        eventLoop.execute {
            let counted = NIOLoopBoundBox(0, eventLoop: eventLoop)
            head.body.start(
                onPart: { part in
                    counted.value += part.readableBytes
                    return eventLoop.makeSucceededVoidFuture()
                },
                onEnd: { result in promise.completeWith(result.map { counted.value }) })
        }
        let bytes = try await promise.futureResult.get()
        let cacheStatus = head.headers.filter { $0.name.lowercased() == "cache-status" }.map(\.value)
        return Answer(status: head.status, cacheStatus: cacheStatus, bytes: bytes)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
