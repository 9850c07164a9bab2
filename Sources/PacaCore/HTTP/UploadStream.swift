public import NIOCore
import Synchronization

/// A request body on its way to the origin: produced on a client connection's event loop as its
/// parts arrive, consumed by the origin transfer on its own thread, with backpressure both ways.
/// At most `window` bytes wait here: past that `write` answers `false` and the connection stops
/// reading the client until `onDrained` runs. A transfer that finds nothing to send waits (libcurl:
/// `CURL_READFUNC_PAUSE`) until `onData` runs.
public final class UploadStream: Sendable {
    /// What a read by the transfer found.
    public enum ReadResult: Sendable, Equatable {
        /// This many bytes were copied.
        case bytes(Int)
        /// Nothing yet: wait for `onData`.
        case wouldBlock
        /// The body is complete.
        case end
        /// The client went away or broke the body: abort the transfer.
        case failed
    }

    private struct State {
        var parts = CircularBuffer<ByteBuffer>(initialCapacity: 8)
        var buffered = 0
        var finished: Bool?
        var producerWaiting = false
        var consumerWaiting = false
        var onDrained: (@Sendable () -> Void)?
        var onData: (@Sendable () -> Void)?
        var total = 0
    }

    /// Bytes that may wait here before the producer is asked to stop. Default 256 KiB.
    public let window: Int
    /// The body's length when the client declared it (`Content-Length`), else `nil` (chunked).
    public let contentLength: Int?
    private let state = Mutex(State())

    /// Creates an empty stream.
    public init(contentLength: Int?, window: Int = 256 << 10) {
        self.contentLength = contentLength
        self.window = max(1, window)
    }

    /// A stream holding the whole of `body`, already finished.
    public static func complete(_ body: ByteBuffer) -> UploadStream {
        let stream = UploadStream(contentLength: body.readableBytes, window: max(1, body.readableBytes))
        _ = stream.write(body)
        stream.finish(success: true)
        return stream
    }

    // MARK: - Producer (the client connection)

    /// Sets what runs when a stopped producer may read again (called from the transfer's thread).
    public func setOnDrained(_ hook: @escaping @Sendable () -> Void) {
        state.withLock { $0.onDrained = hook }
    }

    /// Adds a part. Returns `false` when the producer should stop reading until `onDrained`.
    @discardableResult
    public func write(_ part: ByteBuffer) -> Bool {
        let (room, wake) = state.withLock { state -> (Bool, (@Sendable () -> Void)?) in
            guard state.finished == nil else { return (true, nil) }
            state.parts.append(part)
            state.buffered += part.readableBytes
            state.total += part.readableBytes
            var wake: (@Sendable () -> Void)?
            if state.consumerWaiting {
                state.consumerWaiting = false
                wake = state.onData
            }
            if state.buffered >= window {
                state.producerWaiting = true
                return (false, wake)
            }
            return (true, wake)
        }
        wake?()
        return room
    }

    /// Ends the body: `success` after the last part, `false` when the client went away.
    public func finish(success: Bool) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.finished == nil else { return nil }
            state.finished = success
            if !success { state.parts.removeAll() }
            guard state.consumerWaiting else { return nil }
            state.consumerWaiting = false
            return state.onData
        }
        wake?()
    }

    /// Bytes received from the client so far.
    public var receivedBytes: Int { state.withLock { $0.total } }

    // MARK: - Consumer (the origin transfer)

    /// Sets what runs when a waiting transfer may read again (called from the client's loop).
    public func setOnData(_ hook: @escaping @Sendable () -> Void) {
        state.withLock { $0.onData = hook }
    }

    /// Copies up to `buffer.count` bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        let (result, drained) = state.withLock { state -> (ReadResult, (@Sendable () -> Void)?) in
            if state.finished == false { return (.failed, nil) }
            var copied = 0
            while copied < buffer.count, var part = state.parts.first {
                let count = min(part.readableBytes, buffer.count - copied)
                part.withUnsafeReadableBytes { bytes in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[copied..<(copied + count)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
                }
                part.moveReaderIndex(forwardBy: count)
                copied += count
                if part.readableBytes == 0 {
                    state.parts.removeFirst()
                } else {
                    state.parts[state.parts.startIndex] = part
                }
            }
            state.buffered -= copied
            var drained: (@Sendable () -> Void)?
            if state.producerWaiting, state.buffered <= window / 2 {
                state.producerWaiting = false
                drained = state.onDrained
            }
            if copied > 0 { return (.bytes(copied), drained) }
            if state.finished == true { return (.end, drained) }
            state.consumerWaiting = true
            return (.wouldBlock, drained)
        }
        drained?()
        return result
    }
}
