import Foundation
public import NIOCore
import NIOPosix
import Synchronization

/// A client for large bodies that reads only when the test asks (auto-read off), so a test can
/// stop reading and watch what the proxy does. Body bytes are checked against `BodyPattern` as
/// they arrive and counted, never kept.
public final class StreamingClient: Sendable {
    /// What has arrived.
    struct State {
        var raw = ByteBuffer()
        var head: (status: Int, headers: [(String, String)])?
        var chunked = false
        var chunkRemaining = 0
        var chunkTrailer = false
        var ended = false
        var bodyBytes = 0
        var intact = true
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let channel: any Channel
    private let state: StateBox

    final class StateBox: Sendable {
        let state = Mutex(State())
    }

    private init(channel: any Channel, state: StateBox) {
        self.channel = channel
        self.state = state
    }

    /// Connects to `127.0.0.1:port` with reading paused.
    public static func connect(port: Int, group: any EventLoopGroup) async throws -> StreamingClient {
        let box = StateBox()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 64 << 10)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Reader(box: box)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return StreamingClient(channel: channel, state: box)
    }

    /// Sends bytes as they are.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Sends a buffer.
    public func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer).get()
    }

    /// Reads until the response head is in.
    public func readHead() async throws -> (status: Int, headers: [(String, String)]) {
        try await read { $0.head != nil || $0.closed }
        guard let head = state.state.withLock({ $0.head }) else { throw RawHTTPClientError.closedBeforeResponse(received: "") }
        return head
    }

    /// Reads until at least `count` body bytes have arrived (or the body ended); returns how many.
    @discardableResult
    public func readBody(atLeast count: Int) async throws -> Int {
        try await read { $0.bodyBytes >= count || $0.ended || $0.closed }
        return state.state.withLock { $0.bodyBytes }
    }

    /// Reads the body to its end (`length` bytes, or the last chunk); returns the count and
    /// whether every byte was the pattern.
    public func readBodyToEnd(length: Int?) async throws -> (bytes: Int, intact: Bool) {
        try await read { state in
            if let length, state.bodyBytes >= length { return true }
            return state.ended || state.closed
        }
        return state.state.withLock { ($0.bodyBytes, $0.intact) }
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    private func read(until done: @escaping @Sendable (State) -> Bool) async throws {
        while !state.state.withLock({ done($0) }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let closed = state.state.withLock { state -> Bool in
                    if state.closed { return true }
                    state.waiter = continuation
                    return false
                }
                if closed {
                    continuation.resume()
                } else {
                    channel.read()
                }
            }
        }
    }

    private final class Reader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let box: StateBox

        init(box: StateBox) {
            self.box = box
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            box.state.withLock { state in
                state.raw.writeBuffer(&buffer)
                Self.parse(&state)
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            let waiter = box.state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        func channelInactive(context: ChannelHandlerContext) {
            let waiter = box.state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.closed = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        static func parse(_ state: inout State) {
            if state.head == nil {
                guard let text = state.raw.getString(at: state.raw.readerIndex, length: state.raw.readableBytes),
                    let end = text.range(of: "\r\n\r\n")
                else { return }
                let headText = String(text[..<end.lowerBound])
                state.raw.moveReaderIndex(forwardBy: headText.utf8.count + 4)
                var lines = headText.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst()
                let status = Int(statusLine.split(separator: " ")[1]) ?? 0
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                state.head = (status, headers)
                state.chunked = headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }
            }
            while state.raw.readableBytes > 0, !state.ended {
                if !state.chunked {
                    consume(&state, count: state.raw.readableBytes)
                    return
                }
                if state.chunkRemaining > 0 {
                    consume(&state, count: min(state.chunkRemaining, state.raw.readableBytes))
                    continue
                }
                // At a size line (after the CRLF that ends the previous chunk's data).
                guard let text = state.raw.getString(at: state.raw.readerIndex, length: min(state.raw.readableBytes, 64)) else { return }
                var lineText = text
                if state.chunkTrailer {
                    guard text.hasPrefix("\r\n") else { return }
                    state.raw.moveReaderIndex(forwardBy: 2)
                    state.chunkTrailer = false
                    continue
                }
                guard let end = lineText.range(of: "\r\n") else { return }
                lineText = String(lineText[..<end.lowerBound])
                state.raw.moveReaderIndex(forwardBy: lineText.utf8.count + 2)
                let size = Int(lineText, radix: 16) ?? 0
                if size == 0 {
                    state.ended = true
                    return
                }
                state.chunkRemaining = size
                state.chunkTrailer = true
            }
        }

        static func consume(_ state: inout State, count: Int) {
            let start = state.bodyBytes
            let intact = state.raw.withUnsafeReadableBytes { raw in
                BodyPattern.matches(UnsafeRawBufferPointer(rebasing: raw[0..<count]), from: start)
            }
            if !intact { state.intact = false }
            state.raw.moveReaderIndex(forwardBy: count)
            state.raw.discardReadBytes()
            state.bodyBytes += count
            if state.chunked { state.chunkRemaining -= count }
        }
    }
}
