public import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The deterministic bytes large-body tests send and check: byte `i` of a body is `i % 251`
/// (a prime, so no power-of-two chunking lines up with the pattern).
public enum BodyPattern {
    /// Byte `index` of a pattern body.
    public static func byte(at index: Int) -> UInt8 { UInt8(index % period) }

    private static let period = 251
    /// The pattern from byte 0, one period longer than the longest run copied or compared at a
    /// time: run `[from, from + n)` is `block[from % period ..< from % period + n]`. Tests move
    /// tens of MiB through debug builds, where a loop over single bytes takes seconds.
    private static let run = 64 << 10
    private static let block: [UInt8] = (0..<(run + period)).map { UInt8($0 % period) }

    /// The pattern bytes `[from, from + count)`.
    public static func bytes(from: Int, count: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        var offset = 0
        while offset < count {
            let length = min(run, count - offset)
            let phase = (from + offset) % period
            block.withUnsafeBytes { _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[phase..<(phase + length)])) }
            offset += length
        }
        return buffer
    }

    /// Whether `bytes` are the pattern bytes `[from, from + bytes.count)`.
    public static func matches(_ bytes: UnsafeRawBufferPointer, from: Int) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let length = min(run, bytes.count - offset)
            let phase = (from + offset) % period
            let same = block.withUnsafeBytes { pattern in
                pattern.baseAddress.map { memcmp(bytes.baseAddress! + offset, $0 + phase, length) == 0 } ?? false
            }
            guard same else { return false }
            offset += length
        }
        return true
    }
}

/// An origin on loopback that sends a large pattern body in parts, only while its socket is
/// writable — so when the proxy stops reading, it stops sending — and reports what it did as
/// events a test can await: bytes sent, stalls (the socket full), the end; and for uploads,
/// bytes received and whether they were the pattern.
public final class StreamingOrigin: Sendable {
    /// How a GET is answered.
    public struct Plan: Sendable {
        /// Body size.
        public var size: Int
        /// Extra response fields (`Cache-Control`, …).
        public var headers: [(String, String)]
        /// Send `Transfer-Encoding: chunked` instead of `Content-Length`.
        public var chunked: Bool
        /// After this many bytes, wait for `release()` before sending the rest.
        public var holdAfter: Int?

        public init(size: Int, headers: [(String, String)] = [], chunked: Bool = false, holdAfter: Int? = nil) {
            self.size = size
            self.headers = headers
            self.chunked = chunked
            self.holdAfter = holdAfter
        }
    }

    struct Progress {
        var requests = 0
        var sent = 0
        var finished = 0
        var stalls = 0
        var received = 0
        var receivedIntact = true
        var uploadsDone = 0
        var waiters: [(condition: @Sendable (Progress) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
        var release: (@Sendable () -> Void)?
        var released = false
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let box = ProgressBox()

    /// The bound port.
    public let port: Int

    /// Starts an origin answering every GET with `plan` and every other method by reading the
    /// body (checking it is the pattern) and answering `200` with the count.
    public init(_ plan: Plan) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let box = self.box
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: 64 << 10)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(StreamingOriginHandler(plan: plan, progress: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Body bytes written to sockets so far (all requests).
    public var sent: Int { box.state.withLock { $0.sent } }
    /// Bodies sent completely.
    public var finished: Int { box.state.withLock { $0.finished } }
    /// GETs and uploads seen.
    public var requests: Int { box.state.withLock { $0.requests } }
    /// Upload bytes received so far, and whether every one was the pattern.
    public var received: (bytes: Int, intact: Bool) { box.state.withLock { ($0.received, $0.receivedIntact) } }

    /// Returns once `condition` holds (the test's time limit bounds the wait).
    public func wait(until condition: @escaping @Sendable (_ sent: Int, _ finished: Int, _ stalls: Int, _ received: Int) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let check: @Sendable (Progress) -> Bool = { condition($0.sent, $0.finished, $0.stalls, $0.received) }
            let now = box.state.withLock { state -> Bool in
                if check(state) { return true }
                state.waiters.append((check, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns once `count` requests have arrived.
    public func waitForRequests(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let check: @Sendable (Progress) -> Bool = { $0.requests >= count }
            let now = box.state.withLock { state -> Bool in
                if check(state) { return true }
                state.waiters.append((check, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets a held body go on.
    public func release() {
        let hook = box.state.withLock { state -> (@Sendable () -> Void)? in
            state.released = true
            return state.release
        }
        hook?()
    }

    /// Stops the origin.
    public func shutdown() async {
        release()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Shares the progress between the origin and its handlers.
final class ProgressBox: Sendable {
    let state: Mutex<StreamingOrigin.Progress>

    init() {
        self.state = Mutex(StreamingOrigin.Progress())
    }

    func update(_ change: (inout StreamingOrigin.Progress) -> Void) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state)
            let snapshot = state
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition(snapshot) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }
}

private final class StreamingOriginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let plan: StreamingOrigin.Plan
    let progress: ProgressBox
    var position = 0
    var sending = false
    var method = HTTPMethod.GET
    var uploadOffset = 0
    var context: ChannelHandlerContext?

    init(plan: StreamingOrigin.Plan, progress: ProgressBox) {
        self.plan = plan
        self.progress = progress
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            method = head.method
            uploadOffset = 0
            progress.update { $0.requests += 1 }
        case .body(let buffer):
            let offset = uploadOffset
            let intact = buffer.withUnsafeReadableBytes { raw in
                BodyPattern.matches(raw, from: offset)
            }
            uploadOffset += buffer.readableBytes
            progress.update {
                $0.received += buffer.readableBytes
                if !intact { $0.receivedIntact = false }
            }
        case .end:
            if method == .GET || method == .HEAD {
                startBody(context: context)
            } else {
                let count = uploadOffset
                progress.update { $0.uploadsDone += 1 }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: String("\(count)".utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "\(count)")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    private func startBody(context: ChannelHandlerContext) {
        var headers = HTTPHeaders(plan.headers)
        if plan.chunked {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        } else {
            headers.add(name: "Content-Length", value: String(plan.size))
        }
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        position = 0
        sending = method == .GET
        if !sending {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let loop = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        progress.state.withLock { $0.release = { eventLoop.execute { loop.value.pump() } } }
        pump()
    }

    /// Sends parts while the socket takes them; `channelWritabilityChanged` resumes.
    func pump() {
        guard let context, sending else { return }
        let part = 64 << 10
        while sending, context.channel.isWritable {
            if let hold = plan.holdAfter, position >= hold, !progress.state.withLock({ $0.released }) { return }
            let count = min(part, plan.size - position)
            if count == 0 {
                sending = false
                let progress = self.progress
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenSuccess { progress.update { $0.finished += 1 } }
                return
            }
            let buffer = BodyPattern.bytes(from: position, count: count)
            position += count
            let progress = self.progress
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).whenSuccess {
                progress.update { $0.sent += count }
            }
        }
        if sending, !context.channel.isWritable { progress.update { $0.stalls += 1 } }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump() }
        context.fireChannelWritabilityChanged()
    }
}
