import NIOCore

/// The bookkeeping of a pipelined connection, with no I/O: which requests wait for a socket,
/// which are on the wire in order, which bytes are still to be written. `RedisPipeline` holds it
/// under its lock, applies an event, and performs the returned action outside that lock; writes
/// happen under a second lock that keeps them in the order of `inflight`.
struct RedisRequestQueue {
    /// Called once with a request's replies, in the order of its commands, or with the reason
    /// it got none.
    typealias Completion = @Sendable (Result<[RedisReply], RedisError>) -> Void

    /// One caller's commands, sent in one piece and answered by `expected` replies.
    struct Request {
        let bytes: ByteBuffer
        let expected: Int
        let deadline: ContinuousClock.Instant
        let completion: Completion
        var replies: [RedisReply] = []
    }

    /// Where the connection stands.
    enum Link: Equatable {
        /// No socket. The next request asks the I/O thread to connect.
        case disconnected
        /// The I/O thread is connecting; requests wait in `unsent`.
        case connecting
        /// Callers write their requests themselves; the I/O thread reads the replies.
        case connected(fd: Int32)
    }

    /// Whether new requests are taken.
    enum Admission: Equatable {
        case open
        /// `close()` was called: new requests fail with `.shutDown`; requests on the wire still
        /// get their replies (or their timeout), then the thread ends.
        case closing
    }

    /// What a caller does after `submit`.
    enum SubmitAction {
        /// Write `bytes` to `fd` now (the queue was idle, so nothing can overtake it).
        case write(fd: Int32)
        /// Nothing: the request waits for a connection or behind bytes already queued.
        case none
        /// Wake the I/O thread (to connect).
        case wake
        /// Fail the request at once.
        case fail(RedisError)
    }

    var link = Link.disconnected
    var admission = Admission.open
    /// Requests waiting for a connection.
    var unsent = CircularBuffer<Request>(initialCapacity: 4)
    /// Requests written (or queued in `outbox`), in wire order.
    var inflight = CircularBuffer<Request>(initialCapacity: 16)
    /// Bytes the socket would not take yet; the I/O thread writes them when it can.
    var outbox = ByteBuffer()
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// A caller's request arrives.
    mutating func submit(_ request: Request) -> SubmitAction {
        guard admission == .open else { return .fail(.shutDown) }
        guard unsent.count + inflight.count < limit else { return .fail(.overloaded) }
        switch link {
        case .disconnected:
            unsent.append(request)
            link = .connecting
            return .wake
        case .connecting:
            unsent.append(request)
            return .none
        case .connected(let fd):
            inflight.append(request)
            if outbox.readableBytes > 0 {
                // Bytes ahead of this request are still waiting: queue behind them.
                var bytes = request.bytes
                outbox.writeBuffer(&bytes)
                return .none
            }
            return .write(fd: fd)
        }
    }

    /// The I/O thread connected: every waiting request goes on the wire, in order.
    mutating func connected(fd: Int32) -> ByteBuffer {
        link = .connected(fd: fd)
        var bytes = ByteBuffer()
        while let request = unsent.popFirst() {
            var part = request.bytes
            bytes.writeBuffer(&part)
            inflight.append(request)
        }
        return bytes
    }

    /// Connecting failed (or the queue closed meanwhile): the waiting requests fail.
    mutating func connectFailed() -> [Request] {
        link = .disconnected
        var failed: [Request] = []
        while let request = unsent.popFirst() { failed.append(request) }
        return failed
    }

    /// The socket broke or a reply timed out: it is dropped (a late reply would be read as the
    /// answer to the next request) and every request on it fails.
    mutating func dropped() -> [Request] {
        link = .disconnected
        outbox.clear()
        var failed: [Request] = []
        while let request = inflight.popFirst() { failed.append(request) }
        return failed
    }

    /// Replies read from the socket, in order: the requests they complete, with their replies.
    /// `nil` when a reply arrives that no request waits for (a protocol fault: drop the socket).
    mutating func received(_ replies: [RedisReply]) -> [Request]? {
        var completed: [Request] = []
        for reply in replies {
            guard !inflight.isEmpty else { return nil }
            inflight[inflight.startIndex].replies.append(reply)
            if inflight[inflight.startIndex].replies.count == inflight[inflight.startIndex].expected {
                completed.append(inflight.removeFirst())
            }
        }
        return completed
    }

    /// The oldest deadline of a request on the wire.
    var nextDeadline: ContinuousClock.Instant? {
        inflight.first?.deadline
    }

    /// Nothing is waiting and nothing is on the wire.
    var isIdle: Bool {
        unsent.isEmpty && inflight.isEmpty
    }
}
