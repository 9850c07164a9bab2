public import NIOCore
import Synchronization

/// A body that arrives in parts: produced on any thread (an origin transfer, a file reader, a
/// client connection) and consumed on one event loop, with backpressure. The producer may have
/// at most `window` bytes outstanding — written and not yet released by the consumer — so the
/// memory a transfer holds is bounded by the window, never by the body's size.
///
/// The producer asks `hasRoom()` before each part; when it answers `false` the producer stops
/// (libcurl: `CURL_WRITEFUNC_PAUSE`) until `onResume` runs, which happens once the consumer has
/// released half the window. The consumer gets each part with `onPart` and returns a future that
/// completes when the part is consumed (on the wire, on disk); only then do its bytes count as
/// released.
public final class BodyStream: @unchecked Sendable {
    // Safe: `state` is guarded by its mutex; `consumer` is only touched on `eventLoop`
    // (set by `start`, read by `deliver`, both on the loop); the hooks are set once, before the
    // stream is shared, through `setProducerHooks`, and only read under `state`'s lock after.
    /// The loop the consumer runs on.
    public let eventLoop: any EventLoop
    /// Bytes the producer may have outstanding. Default 256 KiB.
    public let window: Int

    private struct State {
        var parts = CircularBuffer<ByteBuffer>(initialCapacity: 8)
        var outstanding = 0
        var end: Result<Void, any Error>?
        var started = false
        var deliveryScheduled = false
        var producerWaiting = false
        var cancelled = false
        var ended = false
        var onResume: (@Sendable () -> Void)?
        var onCancel: (@Sendable () -> Void)?
        /// Set at the first part or the end.
        var ready: Result<Void, any Error>?
        /// Made only when someone asks for `firstPartOrEnd` before it is ready.
        var readyPromise: EventLoopPromise<Void>?
    }

    /// What the consumer gave `start`.
    private struct Consumer {
        var onPart: (ByteBuffer) -> EventLoopFuture<Void>
        var onEnd: (Result<Void, any Error>) -> Void
    }

    private let state = Mutex(State())
    private var consumer: Consumer?

    /// Creates a stream consumed on `eventLoop`.
    public init(eventLoop: any EventLoop, window: Int = 256 << 10) {
        self.eventLoop = eventLoop
        self.window = max(1, window)
    }

    deinit {
        // A stream dropped before any part or end (its transfer never started) must not leave
        // a waiter hanging.
        let waiting = state.withLock { $0.ready == nil ? $0.readyPromise : nil }
        waiting?.fail(OriginError.shutDown)
    }

    /// Completes when the first part has arrived or the body has ended: with the error when it
    /// failed before any byte, so an answer can still become a clean 502 instead of a cut one.
    public var firstPartOrEnd: EventLoopFuture<Void> {
        state.withLock { state in
            if let ready = state.ready { return eventLoop.makeCompletedFuture(ready) }
            if let promise = state.readyPromise { return promise.futureResult }
            let promise = eventLoop.makePromise(of: Void.self)
            state.readyPromise = promise
            return promise.futureResult
        }
    }

    private func signalReady(_ result: Result<Void, any Error>) {
        let waiting = state.withLock { state -> EventLoopPromise<Void>? in
            guard state.ready == nil else { return nil }
            state.ready = result
            defer { state.readyPromise = nil }
            return state.readyPromise
        }
        waiting?.completeWith(result)
    }

    /// A stream that already holds all of `body` (for answers that were buffered anyway).
    public static func complete(_ body: ByteBuffer, on eventLoop: any EventLoop) -> BodyStream {
        let stream = BodyStream(eventLoop: eventLoop, window: max(1, body.readableBytes + 1))
        if body.readableBytes > 0 { stream.write(body) }
        stream.finish(.success(()))
        return stream
    }

    // MARK: - Producer side (any thread)

    /// Sets what runs when a waiting producer may go on, and when the consumer gives up.
    public func setProducerHooks(onResume: @escaping @Sendable () -> Void, onCancel: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.onResume = onResume
            $0.onCancel = onCancel
        }
    }

    /// Whether the producer may write another part now. When not, the producer must wait for
    /// `onResume` (which this call arms).
    public func hasRoom() -> Bool {
        state.withLock { state in
            if state.cancelled { return true }  // the part will be dropped; let the producer run to its end
            guard state.outstanding >= window else { return true }
            state.producerWaiting = true
            return false
        }
    }

    /// Whether the consumer gave up (the producer may stop).
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Hands a part to the consumer.
    public func write(_ part: ByteBuffer) {
        let schedule = state.withLock { state -> Bool in
            guard !state.cancelled, state.end == nil else { return false }
            state.outstanding += part.readableBytes
            state.parts.append(part)
            return claimDelivery(&state)
        }
        signalReady(.success(()))
        if schedule { scheduleDelivery() }
    }

    /// Ends the body: `.success` after the last part, or the error that cut it short.
    public func finish(_ result: Result<Void, any Error>) {
        let schedule = state.withLock { state -> Bool in
            guard state.end == nil else { return false }
            state.end = result
            return claimDelivery(&state)
        }
        signalReady(result)
        if schedule { scheduleDelivery() }
    }

    private func claimDelivery(_ state: inout State) -> Bool {
        guard state.started, !state.deliveryScheduled, !state.cancelled else { return false }
        state.deliveryScheduled = true
        return true
    }

    /// Always on a later tick, so a producer on the loop never re-enters its consumer.
    private func scheduleDelivery() {
        eventLoop.execute { self.deliver() }
    }

    // MARK: - Consumer side (on `eventLoop`)

    /// Starts delivery: `onPart` for each part in order (its future completes when the part is
    /// consumed), then `onEnd` once. Call once, on `eventLoop`.
    public func start(onPart: @escaping (ByteBuffer) -> EventLoopFuture<Void>, onEnd: @escaping (Result<Void, any Error>) -> Void) {
        eventLoop.preconditionInEventLoop()
        consumer = Consumer(onPart: onPart, onEnd: onEnd)
        let schedule = state.withLock { state -> Bool in
            precondition(!state.started, "BodyStream.start called twice")
            state.started = true
            guard !state.parts.isEmpty || state.end != nil else { return false }
            return claimDelivery(&state)
        }
        if schedule { deliver() }
    }

    /// The consumer gives up: parts are dropped, the producer is told to stop, `onEnd` is not
    /// called. Safe to call more than once, from any thread.
    public func cancel() {
        let hook = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.cancelled, !state.ended else { return nil }
            state.cancelled = true
            state.parts.removeAll()
            state.outstanding = 0
            return state.end == nil ? state.onCancel : nil
        }
        signalReady(.success(()))
        hook?()
    }

    private func deliver() {
        eventLoop.preconditionInEventLoop()
        let (parts, end) = state.withLock { state -> ([ByteBuffer], Result<Void, any Error>?) in
            state.deliveryScheduled = false
            guard !state.cancelled else { return ([], nil) }
            let parts = Array(state.parts)
            state.parts.removeAll(keepingCapacity: true)
            guard let end = state.end, !state.ended else { return (parts, nil) }
            state.ended = true
            return (parts, end)
        }
        guard let consumer else { return }
        for part in parts {
            let size = part.readableBytes
            consumer.onPart(part).whenComplete { _ in self.release(size) }
        }
        if let end {
            self.consumer = nil
            consumer.onEnd(end)
        }
    }

    private func release(_ count: Int) {
        let resume = state.withLock { state -> (@Sendable () -> Void)? in
            state.outstanding = max(0, state.outstanding - count)
            guard state.producerWaiting, state.outstanding <= window / 2 else { return nil }
            state.producerWaiting = false
            return state.onResume
        }
        resume?()
    }

    /// Bytes written and not yet released (for tests and stats).
    public var outstandingBytes: Int { state.withLock { $0.outstanding } }
}
