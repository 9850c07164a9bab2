import NIOCore
import PacaCore
import PacaStorage

/// Keeps a copy of a streamed body for the cache: in memory (for L1, up to a limit) or in an L2
/// file as it passes.
protocol BodySink: AnyObject {
    /// Takes a part; the future, when there is one, completes when the part is kept (written).
    func append(_ part: ByteBuffer) -> EventLoopFuture<Void>?
    /// The copy is unusable (over the limit, a write failed): nothing will be stored.
    var failed: Bool { get }
    /// Drops whatever was kept.
    func abort()
}

/// Collects a body in memory up to `limit` bytes; past that it gives up and holds nothing.
final class MemorySink: BodySink {
    private(set) var body: ByteBuffer
    let limit: Int
    private(set) var failed = false

    init(limit: Int, expectedLength: Int?) {
        self.limit = limit
        self.body = ByteBufferAllocator().buffer(capacity: min(limit, expectedLength ?? 16 << 10))
    }

    func append(_ part: ByteBuffer) -> EventLoopFuture<Void>? {
        guard !failed else { return nil }
        guard body.readableBytes + part.readableBytes <= limit else {
            abort()
            return nil
        }
        body.writeImmutableBuffer(part)
        return nil
    }

    func abort() {
        failed = true
        body = ByteBuffer()
    }
}

/// Writes a body into an L2 file as it passes (DESIGN.md §3: large objects go to disk the way
/// nginx caches them).
final class DiskSink: BodySink {
    let writer: DiskEntryWriter

    init(writer: DiskEntryWriter) {
        self.writer = writer
    }

    func append(_ part: ByteBuffer) -> EventLoopFuture<Void>? {
        writer.append(part)
    }

    var failed: Bool { writer.failed }

    func abort() {
        writer.abort()
    }
}

/// An origin body on its way to the client and, when the answer is stored, into a `BodySink`.
/// The client gets each part as it arrives; a part counts as consumed (releasing the origin
/// transfer's window) once the client's socket took it and the sink kept it. If the client goes
/// away or does not want the body (HEAD, a 304 of its own), a fill with a sink runs to its end
/// without it; one without a sink is cancelled, which stops the origin transfer.
final class FillBody: StreamingBody, @unchecked Sendable {
    // Safe: every member is touched only on `source.eventLoop` — `start` and `cancel` come from
    // the listener on the connection's loop, which is the loop the origin stream delivers on.

    /// Who reads the body besides the sink.
    private enum Reader {
        /// Nobody has asked yet.
        case pending
        /// The client, with its callbacks.
        case client(onPart: (ByteBuffer) -> EventLoopFuture<Void>, onEnd: (Result<Void, any Error>) -> Void)
        /// The client went away or did not want it; only the sink reads.
        case gone
    }

    let source: BodyStream
    private(set) var sink: (any BodySink)?
    private var reader = Reader.pending
    private var started = false
    private let onSourceEnd: (Result<Void, any Error>, (any BodySink)?) -> Void

    /// `onSourceEnd` runs once when the origin body has ended (or was cancelled), with the sink,
    /// so the engine can store the copy and complete the fill.
    init(source: BodyStream, sink: (any BodySink)?, onSourceEnd: @escaping (Result<Void, any Error>, (any BodySink)?) -> Void) {
        self.source = source
        self.sink = sink
        self.onSourceEnd = onSourceEnd
    }

    func start(onPart: @escaping (ByteBuffer) -> EventLoopFuture<Void>, onEnd: @escaping (Result<Void, any Error>) -> Void) {
        guard case .pending = reader else { return }
        reader = .client(onPart: onPart, onEnd: onEnd)
        startSource()
    }

    func cancel() {
        switch reader {
        case .gone:
            return
        case .pending, .client:
            reader = .gone
        }
        if let sink, !sink.failed {
            startSource()  // the fill goes on for the cache
        } else if !started {
            started = true
            source.cancel()
            onSourceEnd(.failure(OriginError.protocolError("body not wanted")), nil)
        } else {
            source.cancel()
            finish(.failure(OriginError.protocolError("client went away")))
        }
    }

    private func startSource() {
        guard !started else { return }
        started = true
        let eventLoop = source.eventLoop
        source.start(
            onPart: { part in
                let kept = self.sink?.append(part)
                if let sink = self.sink, sink.failed {
                    self.sink = nil
                    if case .gone = self.reader {
                        // Nobody left to read: stop the transfer.
                        self.source.cancel()
                        self.finish(.failure(OriginError.protocolError("body no longer kept")))
                        return eventLoop.makeSucceededVoidFuture()
                    }
                }
                guard case .client(let onPart, _) = self.reader else { return kept ?? eventLoop.makeSucceededVoidFuture() }
                // A failed client write (the connection closed) must not hold the sink up.
                let written = onPart(part).recover { _ in }
                guard let kept else { return written }
                return written.and(kept).map { _ in }
            },
            onEnd: { result in self.finish(result) })
    }

    private var finished = false

    private func finish(_ result: Result<Void, any Error>) {
        guard !finished else { return }
        finished = true
        if case .client(_, let onEnd) = reader {
            reader = .gone
            onEnd(result)
        }
        let sink = self.sink
        self.sink = nil
        if case .failure = result { sink?.abort() }
        onSourceEnd(result, sink)
    }
}
