import NIOCore
import NIOHTTP1

/// The request decoder of a connection (issue 12): reads the common request head itself
/// (`RequestHeadScanner`'s strict check) and hands on `.head` and `.end(nil)` for it, and gives
/// the connection to NIO's decoder for good the first time anything else comes: a body, another
/// method or version, an odd byte, an error, a head larger than the header limit or trickling in
/// over more than `maxReadsPerHead` reads. NIO's decoder then sits right after this handler and
/// gets every byte from the first request this handler did not take, so it starts at a message
/// boundary and the parts, errors and limits downstream are exactly those of NIO's decoder alone.
///
/// A head is taken only once it is complete; an incomplete one is kept (within the header limit)
/// while every byte of it fits the strict check, and handed to NIO's decoder as soon as one does
/// not, so a malformed request is refused as early as with NIO's decoder alone.
final class RequestHeadFastPath: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPServerRequestPart

    /// Whose the connection's bytes are.
    private enum Mode {
        /// Heads are read here. `partial` holds the start of a head not complete yet, and `reads`
        /// how many reads it spans.
        case fast(partial: ByteBuffer?, reads: Int)
        /// NIO's decoder, right after this handler, gets every byte.
        case delegated
        /// The channel went inactive with no head begun (possibly while this handler was handing
        /// on the heads of a read): the bytes after are dropped, as nothing can be answered any
        /// more and the connection's handler would drop their parts.
        case inactive
        /// The last head read here closes the connection after its answer (`Connection: close`,
        /// or HTTP/1.0 without `keep-alive`): the bytes after it are dropped, as the server must
        /// not process further requests on the connection (RFC 9112 §9.6). NIO's decoder reports
        /// them as an error instead, which the connection's handler cannot answer either: its
        /// answers end with that request's, and the connection closes.
        case closing
    }

    /// What the bytes at the start of a read buffer are.
    private enum Step {
        case head(HTTPRequestHead, length: Int, keepAlive: Bool, serial: UInt64)
        case incomplete
        case unsuitable
    }

    /// Reads a head may span and still be read here; a client that trickles its head goes to
    /// NIO's decoder, so no head is scanned again more than this many times.
    static let maxReadsPerHead = 4
    /// Field lines in a head at most (NIO's decoder refuses more).
    static let maxFieldCount = 256

    private let maxHeaderBytes: Int
    // This connection's event loop's alone, and only ever read or assigned whole: no access
    // overlaps another, so the runtime's exclusivity check is left out.
    @exclusivity(unchecked) private var mode = Mode.fast(partial: nil, reads: 0)
    /// The last head read here, taken again when the next one is the same bytes. Only ever read
    /// or assigned whole, on the connection's event loop, like `mode`.
    @exclusivity(unchecked) private var remembered: RememberedHead?
    /// This connection's number and the heads it has remembered, for their serials.
    private let connectionNumber: UInt64
    @exclusivity(unchecked) private var headsRemembered: UInt64 = 0
    /// The connection's handler when it sits right after this one (`HTTPServer.configurePipeline`):
    /// told of each head read here by direct call. NIO's decoder, once added, sits between the
    /// two, but this handler then passes bytes on and reads no head.
    private let receiver: ConnectionHandler?
    /// The connection's timeouts, told of every read by direct call (they sit at the end of the
    /// pipeline, where no read reaches them).
    private let timeouts: ConnectionTimeoutHandler?

    /// `maxHeaderBytes`: the listener's header limit (`HTTPServer.Configuration.maxHeaderBytes`).
    init(maxHeaderBytes: Int, receiver: ConnectionHandler? = nil, timeouts: ConnectionTimeoutHandler? = nil) {
        self.maxHeaderBytes = maxHeaderBytes
        self.receiver = receiver
        self.timeouts = timeouts
        self.connectionNumber = RememberedHead.connectionNumber()
    }

    /// NIO's decoder with the listener's limits: the one a connection falls back to, and the one
    /// every connection had before the fast path.
    static func nioDecoder(maxHeaderBytes: Int) -> ByteToMessageHandler<HTTPRequestDecoder> {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderFieldCount = maxFieldCount
        let decoder = HTTPRequestDecoder(
            leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)
        return ByteToMessageHandler(decoder, maximumBufferSize: maxHeaderBytes + 64 << 10)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timeouts?.bytesArrived()
        switch mode {
        case .delegated:
            context.fireChannelRead(data)
        case .inactive, .closing:
            break
        case .fast(let partial, let reads):
            var buffer = unwrapInboundIn(data)
            guard var partial else {
                handOnHeads(context: context, buffer: &buffer, reads: 1)
                return
            }
            mode = .fast(partial: nil, reads: 0)
            partial.writeBuffer(&buffer)
            handOnHeads(context: context, buffer: &partial, reads: reads + 1)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .fast(let partial, _) = mode {
            // The start of a head: NIO's decoder gets it and the end of input, as it would have.
            if let partial { fallBack(context: context, remaining: partial) } else { mode = .inactive }
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .fast(let partial?, _) = mode, event as? ChannelEvent == .some(.inputClosed) {
            fallBack(context: context, remaining: partial)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Hands on every head at the start of `buffer` that passes the strict check; keeps an
    /// incomplete one, or gives the rest to NIO's decoder. `reads`: the reads the first head spans.
    private func handOnHeads(context: ChannelHandlerContext, buffer: inout ByteBuffer, reads: Int) {
        var reads = reads
        while buffer.readableBytes > 0 {
            let limit = maxHeaderBytes
            let step = buffer.withUnsafeReadableBytes { bytes -> Step in
                if let remembered, remembered.begins(bytes) {
                    return .head(
                        remembered.head, length: remembered.bytes.count, keepAlive: remembered.keepAlive, serial: remembered.serial)
                }
                switch RequestHeadScanner.scan(bytes, limit: limit, maxFieldCount: Self.maxFieldCount) {
                case .complete(let length, let fieldCount, let keepAlive):
                    let headBytes = UnsafeRawBufferPointer(rebasing: bytes[..<length])
                    let head = RequestHeadScanner.head(headBytes, fieldCount: fieldCount)
                    headsRemembered &+= 1
                    remembered = RememberedHead(
                        headBytes, head: head, keepAlive: keepAlive,
                        serial: RememberedHead.serial(connection: connectionNumber, head: headsRemembered))
                    return .head(head, length: length, keepAlive: keepAlive, serial: remembered?.serial ?? 0)
                case .incomplete:
                    return .incomplete
                case .unsuitable:
                    return .unsuitable
                }
            }
            guard case .head(let head, let length, let keepAlive, let serial) = step else {
                if case .incomplete = step, reads < Self.maxReadsPerHead {
                    mode = .fast(partial: buffer, reads: reads)
                } else {
                    fallBack(context: context, remaining: buffer)
                }
                return
            }
            buffer.moveReaderIndex(forwardBy: length)
            if !keepAlive { mode = .closing }
            if receiver?.receivePlainRequest(head, keepAlive: keepAlive, serial: serial) != true {
                context.fireChannelRead(wrapInboundOut(.head(head)))
                context.fireChannelRead(wrapInboundOut(.end(nil)))
            }
            // The request closes the connection, or what a part set off closed it.
            guard case .fast = mode else { return }
            reads = 1
        }
        mode = .fast(partial: nil, reads: 0)
    }

    /// Puts NIO's decoder right after this handler, for good, and gives it `remaining`, which
    /// starts at a request's first byte.
    private func fallBack(context: ChannelHandlerContext, remaining: ByteBuffer) {
        mode = .delegated
        // No head is read here any more.
        remembered = nil
        do {
            try context.pipeline.syncOperations.addHandler(Self.nioDecoder(maxHeaderBytes: maxHeaderBytes), position: .after(self))
        } catch {
            context.fireErrorCaught(error)
            return
        }
        if remaining.readableBytes > 0 { context.fireChannelRead(NIOAny(remaining)) }
    }
}
