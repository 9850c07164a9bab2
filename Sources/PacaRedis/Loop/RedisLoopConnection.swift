import NIOCore
import NIOPosix
import Synchronization

/// One pipelined Redis connection owned by one event loop, for callers on that loop.
///
/// A caller on the loop writes its request on the connection's channel and gets the future of
/// its replies, completed on the same loop when the reply is read. An L3 get from a request of
/// that loop therefore wakes one thread, the loop, once (on the reply), as `redis-benchmark`'s
/// single-threaded client does; the thread pool path (`RedisPipeline`) wakes the pipeline's
/// I/O thread, then the awaiting task's thread, then the loop.
///
/// It connects on first use (TCP, `AUTH`, `SELECT`); requests made meanwhile wait and go out
/// once it is ready. A broken connection, or a request past its deadline, fails the requests on
/// it (`RedisReplyHandler`); the next request connects again.
///
/// `@unchecked Sendable`: `state` and `waitTimer` are read and written only on `eventLoop`;
/// `hasChannel` and `isShutDown` are atomics; the other stored properties are immutable.
final class RedisLoopConnection: @unchecked Sendable {
    /// A request made while connecting.
    struct Waiting {
        let bytes: ByteBuffer
        let expected: Int
        let deadline: NIODeadline
        let promise: EventLoopPromise<[RedisReply]>
    }

    enum State {
        /// No channel; the next request connects.
        case idle
        /// Connecting and logging in; requests wait here in order.
        case connecting(waiting: CircularBuffer<Waiting>)
        /// Requests go on the wire at once.
        case ready(any Channel, RedisReplyHandler)
        /// Shut down: requests fail with `.shutDown`.
        case closed
    }

    let eventLoop: any EventLoop
    private let url: RedisURL
    private let timeout: TimeAmount
    private let limit: Int
    private let maxReplyBytes: Int
    private var state = State.idle
    /// While connecting: the timer that fails waiting requests at their deadline.
    private var waitTimer: Scheduled<Void>?
    /// Which channel (counted from 1, one per connect) the latest request went out on. On the loop.
    private(set) var generation = 0
    /// The last channel whose failure a caller has claimed (`claimFailure(of:)`).
    private var claimedFailure = 0
    /// Whether a channel is open or being opened: only then does `close()` need the loop (a loop
    /// that has shut down has closed its channels, and must not be given tasks).
    private let hasChannel = Atomic<Bool>(false)
    /// Set by `close()`: requests fail with `.shutDown` from then on.
    private let isShutDown = Atomic<Bool>(false)

    /// A connection on `eventLoop`, or nil when the loop cannot open sockets (an embedded loop).
    /// `maxQueued` bounds the requests outstanding at once, `maxReplyBytes` the size of one reply.
    init?(eventLoop: any EventLoop, url: RedisURL, timeout: Duration, maxQueued: Int, maxReplyBytes: Int = RESPDecoder.maxBulkBytes) {
        guard ClientBootstrap(validatingGroup: eventLoop) != nil else { return nil }
        self.eventLoop = eventLoop
        self.url = url
        self.timeout = .milliseconds(max(1, Int64(timeout.milliseconds)))
        self.limit = max(1, maxQueued)
        self.maxReplyBytes = maxReplyBytes
    }

    /// Whether a channel is connected and logged in. On the loop.
    var isReady: Bool {
        if case .ready(_, let handler) = state { return handler.isOpen }
        return false
    }

    /// Whether a channel is open or being opened, so that `close()` needs the loop. Any thread.
    var needsLoopToClose: Bool {
        hasChannel.load(ordering: .sequentiallyConsistent)
    }

    /// Requests written and not answered, plus those waiting for the connection. On the loop.
    var outstandingRequests: Int {
        switch state {
        case .idle, .closed: 0
        case .connecting(let waiting): waiting.count
        case .ready(_, let handler): handler.inflightRequests
        }
    }

    /// Sends `commands` in one write and returns their replies in order. Must be called on the
    /// loop; the future completes there.
    func send(_ commands: [[ByteBuffer]]) -> EventLoopFuture<[RedisReply]> {
        eventLoop.assertInEventLoop()
        let promise = eventLoop.makePromise(of: [RedisReply].self)
        let bytes = RedisPipeline.encode(commands)
        let deadline = eventLoop.now + timeout
        if isShutDown.load(ordering: .sequentiallyConsistent) { shutDownOnLoop() }
        switch state {
        case .closed:
            promise.fail(RedisError.shutDown)
        case .ready(_, let handler) where handler.isOpen:
            if handler.inflightRequests >= limit {
                promise.fail(RedisError.overloaded)
            } else {
                handler.submit(bytes, expected: commands.count, deadline: deadline, promise: promise)
            }
        case .connecting(var waiting):
            if waiting.count >= limit {
                promise.fail(RedisError.overloaded)
            } else {
                state = .idle
                waiting.append(Waiting(bytes: bytes, expected: commands.count, deadline: deadline, promise: promise))
                state = .connecting(waiting: waiting)
            }
        case .idle, .ready:
            // `.ready` here: the connection failed and its channel is closing; start anew.
            var waiting = CircularBuffer<Waiting>(initialCapacity: 4)
            waiting.append(Waiting(bytes: bytes, expected: commands.count, deadline: deadline, promise: promise))
            state = .connecting(waiting: waiting)
            // Announced before the shut-down flag is read, as `close()` sets that flag before
            // it reads this one: one of the two sees the other.
            hasChannel.store(true, ordering: .sequentiallyConsistent)
            if isShutDown.load(ordering: .sequentiallyConsistent) {
                shutDownOnLoop()
            } else {
                armWaitTimer()
                connect()
            }
        }
        return promise.futureResult
    }

    /// True for the first caller to report that the channel `generation` failed: when a channel
    /// breaks, every request on it fails at once, and the failure is one event, not one per
    /// request (a reset with 16 gets on the wire must not weigh as 16 failures). On the loop.
    func claimFailure(of generation: Int) -> Bool {
        guard generation != claimedFailure else { return false }
        claimedFailure = generation
        return true
    }

    /// Refuses new requests and closes the channel; requests waiting or on the wire fail with
    /// `.shutDown`, which no breaker counts. The channel is closed on the loop, after what was submitted to it before,
    /// and nothing waits for it. A connection without a channel needs nothing from its loop: a
    /// loop that has shut down (closing its channels) is given no task.
    func close() {
        isShutDown.store(true, ordering: .sequentiallyConsistent)
        guard hasChannel.load(ordering: .sequentiallyConsistent) else { return }
        eventLoop.execute { [self] in shutDownOnLoop() }
    }

    /// `close()`'s work on the loop (idempotent).
    private func shutDownOnLoop() {
        let previous = state
        state = .closed
        switch previous {
        case .ready(let channel, let handler):
            // Failed as shut down, not as a broken connection: no breaker counts them.
            handler.close(because: .shutDown)
            channel.close(promise: nil)
        case .connecting(let waiting):
            cancelWaitTimer()
            for request in waiting { request.promise.fail(RedisError.shutDown) }
        case .idle, .closed:
            break
        }
    }

    // MARK: - Connecting

    private func connect() {
        generation &+= 1
        guard let bootstrap = ClientBootstrap(validatingGroup: eventLoop) else {
            connectFailed(.connectFailed("the event loop cannot open sockets"))
            return
        }
        bootstrap
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [maxReplyBytes] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(maxReplyBytes: maxReplyBytes))
                }
            }
            .connect(host: url.host, port: url.port)
            .hop(to: eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    connectFailed(.connectFailed("\(error)"))
                case .success(let channel):
                    guard case .connecting = state else {
                        // Shut down while connecting.
                        channel.close(promise: nil)
                        return
                    }
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisReplyHandler.self) else {
                        channel.close(promise: nil)
                        connectFailed(.connectFailed("the connection closed at once"))
                        return
                    }
                    logIn(channel, handler)
                }
            }
    }

    /// Sends `AUTH` and `SELECT` (when the URL asks for them) and waits for their replies before
    /// any request goes out, so a refused login fails the requests with its reason.
    private func logIn(_ channel: any Channel, _ handler: RedisReplyHandler) {
        var commands: [[ByteBuffer]] = []
        if let password = url.password {
            var auth = [ByteBuffer(string: "AUTH")]
            if let username = url.username { auth.append(ByteBuffer(string: username)) }
            auth.append(ByteBuffer(string: password))
            commands.append(auth)
        }
        if url.database != 0 {
            commands.append([ByteBuffer(string: "SELECT"), ByteBuffer(string: String(url.database))])
        }
        guard !commands.isEmpty else {
            becomeReady(channel, handler)
            return
        }
        let promise = eventLoop.makePromise(of: [RedisReply].self)
        handler.submit(RedisPipeline.encode(commands), expected: commands.count, deadline: eventLoop.now + timeout, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                channel.close(promise: nil)
                connectFailed(error as? RedisError ?? .io("\(error)"))
            case .success(let replies):
                var refusal: RedisError?
                for (index, reply) in replies.enumerated() {
                    guard case .error(let message) = reply else { continue }
                    let isAuth = url.password != nil && index == 0
                    refusal = isAuth ? .authenticationFailed(message) : .selectFailed(message)
                    break
                }
                if let refusal {
                    channel.close(promise: nil)
                    connectFailed(refusal)
                } else {
                    becomeReady(channel, handler)
                }
            }
        }
    }

    private func becomeReady(_ channel: any Channel, _ handler: RedisReplyHandler) {
        guard case .connecting(let waiting) = state else {
            // Closed meanwhile.
            channel.close(promise: nil)
            return
        }
        cancelWaitTimer()
        state = .ready(channel, handler)
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            if case .ready(let current, _) = state, current === channel {
                state = .idle
                hasChannel.store(false, ordering: .sequentiallyConsistent)
            }
        }
        let now = eventLoop.now
        for request in waiting {
            if request.deadline <= now {
                request.promise.fail(RedisError.timeout)
            } else {
                handler.submit(request.bytes, expected: request.expected, deadline: request.deadline, promise: request.promise)
            }
        }
    }

    /// While connecting: fails the waiting requests whose deadline has passed, at that deadline
    /// (the connect and the login may take up to a timeout each).
    private func armWaitTimer() {
        guard waitTimer == nil, case .connecting(let waiting) = state, let oldest = waiting.first else { return }
        waitTimer = eventLoop.assumeIsolated().scheduleTask(deadline: oldest.deadline) { [self] in
            waitTimer = nil
            guard case .connecting(var waiting) = state else { return }
            state = .idle
            let now = eventLoop.now
            var expired: [Waiting] = []
            while let first = waiting.first, first.deadline <= now { expired.append(waiting.removeFirst()) }
            state = .connecting(waiting: waiting)
            for request in expired { request.promise.fail(RedisError.timeout) }
            armWaitTimer()
        }
    }

    private func cancelWaitTimer() {
        waitTimer?.cancel()
        waitTimer = nil
    }

    private func connectFailed(_ error: RedisError) {
        guard case .connecting(let waiting) = state else { return }
        cancelWaitTimer()
        state = .idle
        hasChannel.store(false, ordering: .sequentiallyConsistent)
        for request in waiting { request.promise.fail(error) }
    }
}
