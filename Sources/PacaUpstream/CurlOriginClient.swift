import CCurl
import Foundation
public import Logging
public import NIOCore
public import PacaCore
import PacaHTTPCaching
import Synchronization

/// The origin client: one `curl_multi` loop on its own thread drives every transfer, so no NIO
/// event loop ever waits on the network. Connections to each origin are kept alive and reused by
/// the multi handle's connection cache. The head of an answer is handed back through an
/// `EventLoopPromise`; its body streams through a `BodyStream` with backpressure: when the
/// consumer (the client's socket, a disk write) falls a window behind, the transfer is paused
/// (`CURL_WRITEFUNC_PAUSE`) and continued (`curl_easy_pause`) once it has caught up. Request bodies
/// stream the same way from an `UploadStream` (`CURL_READFUNC_PAUSE`).
public final class CurlOriginClient: OriginClient {
    /// Settings of the client as a whole (per-request limits travel with each `OriginRequest`).
    public struct Configuration: Sendable {
        /// Connections kept open in the cache, over all origins. Default 256.
        public var maxCachedConnections: Int
        /// Most connections to one host at once; 0 is no limit. Default 0.
        public var maxConnectionsPerHost: Int
        /// Bytes of a response body one transfer may have in flight towards its consumer before
        /// it is paused. Default 256 KiB.
        public var bodyWindow: Int

        /// Creates a configuration with the defaults above.
        public init(maxCachedConnections: Int = 256, maxConnectionsPerHost: Int = 0, bodyWindow: Int = 256 << 10) {
            self.maxCachedConnections = maxCachedConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.bodyWindow = bodyWindow
        }
    }

    /// What other threads ask of the transfer thread.
    struct Inbox {
        var pending: [Transfer] = []
        var resumes: [Transfer] = []
        var cancels: [Transfer] = []
        var stopping = false
    }

    final class InboxBox: Sendable {
        let state = Mutex(Inbox())
    }

    /// Pauses of origin transfers because their consumer fell a window behind (a slow client,
    /// a slow disk), and the callers waiting for a count of them.
    private final class PauseCounter: Sendable {
        let state = Mutex<(count: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

        func record() {
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.count += 1
                let count = state.count
                let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
                state.waiters.removeAll { $0.0 <= count }
                return ready
            }
            for waiter in ready { waiter.resume() }
        }
    }

    private let pauseCounter = PauseCounter()

    /// How many times a transfer was paused because its consumer was a window behind.
    public var pauses: Int { pauseCounter.state.withLock { $0.count } }

    /// Returns once `count` pauses have happened in all (for stats and tests; the caller bounds
    /// the wait).
    public func waitForPauses(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = pauseCounter.state.withLock { state -> Bool in
                if state.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    private let inboxBox = InboxBox()
    private let multi: MultiHandle
    private let clock: any WallClock
    private let logger: Logger
    private let configuration: Configuration

    /// What happened to the multi handle, for tests of the shutdown ordering.
    enum MultiHandleEvent: Sendable, Equatable {
        /// A wake-up was asked for, before it takes the lock (where a thread may be preempted).
        case wakeupRequested
        /// `curl_multi_wakeup` ran.
        case wakeup
        /// A wake-up came after `curl_multi_cleanup` and touched nothing.
        case wakeupAfterCleanup
        /// `curl_multi_cleanup` ran.
        case cleanup
    }

    /// Starts the client and its transfer thread.
    public convenience init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.upstream")
    ) {
        self.init(configuration: configuration, clock: clock, logger: logger, multiHandleObserver: nil)
    }

    /// Starts the client; `multiHandleObserver` is told of each wake-up and the cleanup of the
    /// multi handle, in their order (a test seam).
    init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.upstream"),
        multiHandleObserver: (@Sendable (MultiHandleEvent) -> Void)?
    ) {
        CurlGlobal.initializeOnce()
        self.multi = MultiHandle(observer: multiHandleObserver)
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
        _ = paca_curl_multi_setopt_long(multi.pointer, CURLMOPT_MAXCONNECTS, configuration.maxCachedConnections)
        _ = paca_curl_multi_setopt_long(multi.pointer, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        let thread = Thread { [multi, inboxBox, clock] in
            // Named from inside: a name given before `start()` does not reach the kernel's
            // (`ps -L`, `top -H`) on Linux.
            Thread.current.name = "paca-curl"
            TransferLoop(multi: multi, inbox: inboxBox, clock: clock).run()
        }
        thread.start()
    }

    deinit {
        shutdown()
    }

    /// Sends `request`; the future completes on `eventLoop` with the head or an `OriginError`,
    /// and the body follows through the response's stream.
    public func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        let promise = eventLoop.makePromise(of: OriginStreamingResponse.self)
        let body = BodyStream(eventLoop: eventLoop, window: configuration.bodyWindow)
        let counter = pauseCounter
        let transfer = Transfer(request: request, promise: promise, body: body, clock: clock, onPause: { counter.record() })
        let inbox = inboxBox
        let multi = self.multi
        let resume: @Sendable () -> Void = { [weak transfer] in
            guard let transfer else { return }
            inbox.state.withLock { $0.resumes.append(transfer) }
            multi.wakeup()
        }
        body.setProducerHooks(
            onResume: resume,
            onCancel: { [weak transfer] in
                guard let transfer else { return }
                inbox.state.withLock { $0.cancels.append(transfer) }
                multi.wakeup()
            })
        request.upload?.setOnData(resume)
        let accepted = inboxBox.state.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.pending.append(transfer)
            return true
        }
        if accepted {
            multi.wakeup()
        } else {
            promise.fail(OriginError.shutDown)
        }
        return promise.futureResult
    }

    /// Fails transfers still in flight with `OriginError.shutDown` and stops the thread.
    public func shutdown() {
        let first = inboxBox.state.withLock { inbox -> Bool in
            defer { inbox.stopping = true }
            return !inbox.stopping
        }
        guard first else { return }
        multi.wakeup()
    }

    /// The loop that owns the multi handle; runs until `shutdown`.
    private struct TransferLoop {
        let multi: MultiHandle
        let inbox: InboxBox
        let clock: any WallClock

        func run() {
            var active: [UnsafeMutableRawPointer: Transfer] = [:]
            var lastSweep = Monotonic.nanoseconds()
            // The inbox's arrays are swapped with these, emptied, each turn: the two sets of
            // buffers take turns, so a turn allocates nothing. (Copying the inbox's arrays out
            // and then emptying them "keeping capacity" allocated three new buffers a turn,
            // since the copies still held the old ones.)
            var incoming: [Transfer] = []
            var resumes: [Transfer] = []
            var cancels: [Transfer] = []
            while true {
                incoming.removeAll(keepingCapacity: true)
                resumes.removeAll(keepingCapacity: true)
                cancels.removeAll(keepingCapacity: true)
                let stopping = inbox.state.withLock { inbox -> Bool in
                    swap(&incoming, &inbox.pending)
                    swap(&resumes, &inbox.resumes)
                    swap(&cancels, &inbox.cancels)
                    return inbox.stopping
                }
                if stopping {
                    for transfer in incoming { transfer.fail(OriginError.shutDown) }
                    for (easy, transfer) in active {
                        curl_multi_remove_handle(multi.pointer, easy)
                        transfer.finish(.failure(OriginError.shutDown))
                    }
                    multi.cleanup()
                    return
                }
                for transfer in incoming {
                    transfer.start(now: clock.now())
                    if let easy = transfer.easy, curl_multi_add_handle(multi.pointer, easy) == CURLM_OK {
                        active[easy] = transfer
                    } else {
                        transfer.finish(.failure(OriginError.protocolError("cannot start transfer")))
                    }
                }
                for transfer in cancels {
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    active[easy] = nil
                    curl_multi_remove_handle(multi.pointer, easy)
                    transfer.finish(.failure(OriginError.protocolError("cancelled by the consumer")))
                }
                for transfer in resumes {
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    transfer.resume()
                }
                var running: Int32 = 0
                curl_multi_perform(multi.pointer, &running)
                var left: Int32 = 0
                while let message = curl_multi_info_read(multi.pointer, &left) {
                    guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                    let code = message.pointee.data.result
                    curl_multi_remove_handle(multi.pointer, easy)
                    if let transfer = active.removeValue(forKey: easy) {
                        transfer.complete(code: code, now: clock.now())
                    }
                }
                let now = Monotonic.nanoseconds()
                if now - lastSweep >= 50_000_000 {
                    lastSweep = now
                    for (easy, transfer) in active where transfer.isIdleTooLong(now: now) {
                        active[easy] = nil
                        curl_multi_remove_handle(multi.pointer, easy)
                        transfer.finish(.failure(transfer.timeoutError))
                    }
                }
                var ready: Int32 = 0
                curl_multi_poll(multi.pointer, nil, 0, active.isEmpty ? 1000 : 100, &ready)
            }
        }
    }
}

/// A monotonic clock for transfer timeouts (wall time may jump).
enum Monotonic {
    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

/// The multi handle, shared between the client (for wake-ups) and its loop.
private final class MultiHandle: Sendable {
    // `pointer` is used only on the transfer thread after init, apart from curl_multi_wakeup,
    // which libcurl allows from any thread but not after curl_multi_cleanup: `cleaned` (under its
    // lock) orders the two, so a wake-up never touches a freed handle.
    nonisolated(unsafe) let pointer: UnsafeMutableRawPointer
    private let cleaned = Mutex(false)
    /// Told of each wake-up asked for, then (under the lock, so in the order they happened) of
    /// what the wake-up did and of the cleanup. A test seam; `nil` in use.
    private let observer: (@Sendable (CurlOriginClient.MultiHandleEvent) -> Void)?

    init(observer: (@Sendable (CurlOriginClient.MultiHandleEvent) -> Void)?) {
        guard let pointer = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.pointer = pointer
        self.observer = observer
    }

    func wakeup() {
        observer?(.wakeupRequested)
        cleaned.withLock { cleaned in
            guard !cleaned else {
                observer?(.wakeupAfterCleanup)
                return
            }
            curl_multi_wakeup(pointer)
            observer?(.wakeup)
        }
    }

    func cleanup() {
        cleaned.withLock { cleaned in
            guard !cleaned else { return }
            cleaned = true
            curl_multi_cleanup(pointer)
            observer?(.cleanup)
        }
    }
}

private enum CurlGlobal {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        return true
    }()

    static func initializeOnce() {
        _ = initialized
    }
}
