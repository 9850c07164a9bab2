import Foundation
public import NIOCore
import NIOPosix

/// A parsed HTTP/1.1 response.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: String

    /// The first value of `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Every value of `name` (case-insensitive).
    public func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    /// The `Cache-Status` lines joined.
    public var cacheStatus: String { headers("cache-status").joined(separator: ", ") }
}

/// Errors of the raw client.
public enum RawHTTPClientError: Error {
    case closedBeforeResponse(received: String)
    case timedOut
    case malformed(String)
}

/// A client that writes raw bytes, so tests can send exactly what a broken or hostile client
/// would, and reads responses off one keep-alive connection. Every wait is bounded by a deadline
/// that closes the connection (no sleeping).
public final class RawConnection: Sendable {
    private let channel: any Channel
    private let state: State

    private final class State: @unchecked Sendable {
        // Only touched by the one task that owns the connection in a test.
        var buffer = ByteBuffer()
        var iterator: AsyncStream<ByteBuffer>.AsyncIterator
        var closed = false

        init(iterator: AsyncStream<ByteBuffer>.AsyncIterator) {
            self.iterator = iterator
        }
    }

    /// Hands received bytes to the test through an `AsyncStream`.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation

        init(continuation: AsyncStream<ByteBuffer>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// Connects to 127.0.0.1:`port`; the whole conversation is bounded by `timeout`, after
    /// which the connection is closed (so a test can never hang).
    public static func connect(port: Int, group: any EventLoopGroup, timeout: TimeAmount = .seconds(10)) async throws -> RawConnection {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        return RawConnection(channel: channel, iterator: stream.makeAsyncIterator())
    }

    private init(channel: any Channel, iterator: AsyncStream<ByteBuffer>.AsyncIterator) {
        self.channel = channel
        self.state = State(iterator: iterator)
    }

    /// Writes `text` as it is.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Writes `bytes` as they are.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    private func readMore() async throws -> Bool {
        guard !state.closed else { return false }
        if var chunk = await state.iterator.next() {
            state.buffer.writeBuffer(&chunk)
            return true
        }
        state.closed = true
        return false
    }

    /// Reads one response; `bodyExpected: false` for answers to HEAD.
    public func readResponse(bodyExpected: Bool = true) async throws -> TestResponse {
        while true {
            if let response = try parseOne(bodyExpected: bodyExpected) { return response }
            guard try await readMore() else {
                throw RawHTTPClientError.closedBeforeResponse(received: String(buffer: state.buffer))
            }
        }
    }

    /// Waits until the server closes the connection; returns any bytes that came first.
    public func readUntilClosed() async throws -> String {
        while try await readMore() {}
        return String(buffer: state.buffer)
    }

    /// Waits until the server closes the connection; returns every byte received, exactly.
    public func readUntilClosedBytes() async throws -> [UInt8] {
        while try await readMore() {}
        return Array(state.buffer.readableBytesView)
    }

    /// Waits until the peer closes (true), reading and dropping anything it still sends.
    public func isClosedByPeer() async throws -> Bool {
        while try await readMore() {}
        return true
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    private func parseOne(bodyExpected: Bool) throws -> TestResponse? {
        let text = String(buffer: state.buffer)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let headText = text[..<headEnd.lowerBound]
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPClientError.malformed(statusLine) }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPClientError.malformed(line) }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let headBytes = text[..<headEnd.upperBound].utf8.count
        var length = 0
        if bodyExpected, status >= 200, status != 204, status != 304,
            let value = headers.first(where: { $0.0.lowercased() == "content-length" })?.1
        {
            length = Int(value) ?? 0
        }
        guard state.buffer.readableBytes >= headBytes + length else { return nil }
        state.buffer.moveReaderIndex(forwardBy: headBytes)
        let body = state.buffer.readString(length: length) ?? ""
        state.buffer.discardReadBytes()
        return TestResponse(status: status, headers: headers, body: body)
    }
}

/// One request on a new connection: `GET path` with `headers`, read one response, close.
public func fetch(
    port: Int, group: any EventLoopGroup, method: String = "GET", path: String, headers: [(String, String)] = [], body: String? = nil
) async throws -> TestResponse {
    let connection = try await RawConnection.connect(port: port, group: group)
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
    request += "\r\n"
    if let body { request += body }
    try await connection.send(request)
    let response = try await connection.readResponse(bodyExpected: method != "HEAD")
    await connection.close()
    return response
}
