import Logging
import NIOCore
import NIOHTTP1
import PacaCore

/// One connection: hands each request to the responder once its head is in (its body streams on
/// through an `UploadStream`), answers strictly in order (a pipelined request waits for the one
/// before it), writes streamed bodies part by part as the socket drains, pauses reading when too
/// many requests are queued, the socket is full or an upload is a window ahead of its origin,
/// and turns protocol errors into a final 400/413/431 followed by closing the connection.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent by `HTTPServer.shutdown`: finish what was asked, then close.
    struct Quiesce {}

    private enum Pending {
        /// A request, its number on this connection, and whether the connection stays open after
        /// it as far as the request says (read when it arrived: for a plain head, by the fast
        /// path as it scanned the bytes, with no search of its fields for `Connection`).
        case request(ProxyRequest, number: UInt64, keepAlive: Bool)
        /// A final error answer; the connection closes after it.
        case reject(ProxyResponse)
    }

    /// Where the request being received stands.
    private enum Receiving {
        case idle
        /// The head is in and queued; its body parts go to `upload` (counted against the limit).
        case body(UploadStream?, received: Int)
        /// The request was refused mid-way; its remaining parts are dropped.
        case discarding
    }

    private let configuration: HTTPServer.Configuration
    private let responder: any ProxyResponder
    private let logger: Logger
    // The state below is this connection's event loop's alone. Every access is a read, an
    // assignment or a call of a value type's own method, and the one `inout` use
    // (`headScratch`, into `ResponseEncoding.encode`, a static function that calls nothing
    // back): no access can overlap another, so the runtime's exclusivity check (a call per
    // access, about 40 instructions, several per hit) is left out of the hottest of them.
    @exclusivity(unchecked) private var receiving = Receiving.idle
    @exclusivity(unchecked) private var queue = CircularBuffer<Pending>(initialCapacity: 4)
    /// A response is being produced or its streamed body written; later ones wait.
    @exclusivity(unchecked) private var responding = false
    @exclusivity(unchecked) private var quiescing = false
    @exclusivity(unchecked) private var closed = false
    @exclusivity(unchecked) private var readWithheld = false
    /// The current upload is a window ahead of the origin transfer: read no more until it drains.
    @exclusivity(unchecked) private var uploadFull = false
    @exclusivity(unchecked) private var needsFlush = false
    /// This connection is in its loop's `flushes`, to be flushed at the end of the loop's turn.
    @exclusivity(unchecked) private var flushWaiting = false
    /// The loop's list of flushes put off to the end of its turn; `nil` flushes at once (tests).
    private let flushes: LoopFlushes?
    private var peer = ""
    /// The streamed body being written, cancelled if the connection goes away.
    private var streaming: (any StreamingBody)?
    /// An upload refused mid-way (too large, malformed): its request's answer becomes this one,
    /// and the connection closes after it.
    private var failedUpload: (upload: UploadStream, answer: ProxyResponse)?
    /// Numbers the requests of this connection, so an interim response finds its own.
    @exclusivity(unchecked) private var requestsReceived: UInt64 = 0
    /// The request being answered whose final head is not written yet: only its interim (1xx)
    /// responses go out, so none ever follows a final head or reaches another request.
    @exclusivity(unchecked) private var interimOpenFor: UInt64?
    /// The sink of this connection's interim responses, made on the first HTTP/1.1 request.
    private var interimRelay: InterimRelay?
    /// The buffer the last response head was encoded into, recycled for the next one once the
    /// socket has let go of it (so a hit allocates no head buffer); a keep-alive connection holds
    /// at most `retainedHeadCapacity` bytes of it between requests.
    @exclusivity(unchecked) private var headScratch: ByteBuffer?
    static let retainedHeadCapacity = 4096

    /// The connection's timeouts, told directly when a head is in and when a request is complete;
    /// `nil` when the pipeline has none (tests).
    private let timeouts: ConnectionTimeoutHandler?
    /// What the responder worked out from this connection's last fast-path head, for the next
    /// request with the same head (`ProxyRequest.memo`).
    private let memo = RequestMemo()

    init(
        configuration: HTTPServer.Configuration, responder: any ProxyResponder, logger: Logger, timeouts: ConnectionTimeoutHandler? = nil,
        flushes: LoopFlushes? = nil
    ) {
        self.flushes = flushes
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.timeouts = timeouts
    }

    /// This handler's context while it is in the pipeline, for the fast path's direct call
    /// (`receivePlainRequest`); let go of when the handler is removed, which ends the cycle
    /// between the two.
    private var ownContext: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        ownContext = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ownContext = nil
        interimRelay = nil
    }

    /// A plain request (a head with no body) read by the fast path right before this handler:
    /// the same as its `.head` and `.end(nil)` through the pipeline, without boxing each part in
    /// `NIOAny` (an allocation for the head) and casting it back (about 1,000 instructions a
    /// request). `keepAlive`: the fast path's reading of the head's version and `Connection`;
    /// `serial`: the head's `RememberedHead.serial`, or 0 when it was not remembered.
    /// Returns false, having done nothing, when this handler is not in a pipeline.
    func receivePlainRequest(_ head: HTTPRequestHead, keepAlive: Bool, serial: UInt64 = 0) -> Bool {
        guard let context = ownContext else { return false }
        receiveHead(head, from: .fastPath(keepAlive: keepAlive, serial: serial), context: context)
        receiveEnd()
        return true
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress?.ipAddress ?? ""
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        // The relay holds this handler: let go of it so the two do not keep each other.
        interimRelay = nil
        streaming?.cancel()
        streaming = nil
        if case .body(let upload, _) = receiving { upload?.finish(success: false) }
        receiving = .idle
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            receiveHead(head, from: .decoder, context: context)
        case .body(let chunk):
            guard case .body(let upload, let received) = receiving else { return }
            let size = received + chunk.readableBytes
            guard size <= configuration.maxBodyBytes else {
                failUpload(context, .plain(.payloadTooLarge, "request body larger than \(configuration.maxBodyBytes) bytes", close: true))
                return
            }
            receiving = .body(upload, received: size)
            if let upload, !upload.write(chunk) { uploadFull = true }
        case .end:
            receiveEnd()
        }
    }

    /// Who read a head.
    private enum HeadSource {
        /// The fast path: exactly one valid `Host`, no `Expect` and no body, which
        /// `RequestHeadScanner` checked as it read the bytes, and whether the connection stays
        /// open, which it read from the version and the one `Connection` option.
        case fastPath(keepAlive: Bool, serial: UInt64)
        /// NIO's decoder: every check is this handler's.
        case decoder
    }

    private func receiveHead(_ head: HTTPRequestHead, from source: HeadSource, context: ChannelHandlerContext) {
        guard case .idle = receiving else { return }
        var upload: UploadStream?
        let keepAlive: Bool
        var serial: UInt64 = 0
        switch source {
        case .fastPath(let plainKeepAlive, let headSerial):
            keepAlive = plainKeepAlive
            serial = headSerial
        case .decoder:
            guard case .accepted(let stream) = check(head, context: context) else { return }
            upload = stream
            keepAlive = head.isKeepAlive
        }
        timeouts?.headReceived()
        receiving = .body(upload, received: 0)
        requestsReceived &+= 1
        let request = ProxyRequest(
            head: head, upload: upload, peer: peer, interimSink: interimSink(version: head.version, context: context),
            number: requestsReceived, headSerial: serial, memo: serial == 0 ? nil : memo)
        guard canAnswerAtOnce(context: context) else {
            queue.append(.request(request, number: requestsReceived, keepAlive: keepAlive))
            processQueue(context: context)
            return
        }
        // The common case: answered without a trip through the queue (which cost two copies of
        // the request). What follows is what `processQueue` does after an answer.
        if answer(request, number: requestsReceived, keepAliveAsked: keepAlive, context: context) {
            processQueue(context: context)
        }
    }

    /// What the checks of a head from NIO's decoder found.
    private enum HeadCheck {
        /// Refused: the answer is on its way and the connection closes after it.
        case refused
        /// Taken, with the stream its body goes to (`nil`: no body).
        case accepted(UploadStream?)
    }

    /// The checks of a head from NIO's decoder (`Host`, transfer codings, the body's size,
    /// `Expect`), and the stream for its body.
    private func check(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> HeadCheck {
        if let problem = HostFieldCheck.problem(head) {
            reject(context, .plain(.badRequest, problem, close: true))
            return .refused
        }
        switch TransferCodingCheck.problem(head) {
        case .notImplemented(let problem):
            reject(context, .plain(.notImplemented, problem, close: true))
            return .refused
        case .malformed(let problem):
            reject(context, .plain(.badRequest, problem, close: true))
            return .refused
        case nil:
            break
        }
        let declared = head.headers.first(name: "content-length").flatMap(Int.init)
        if let declared, declared > configuration.maxBodyBytes {
            reject(context, .plain(.payloadTooLarge, "request body larger than \(configuration.maxBodyBytes) bytes", close: true))
            return .refused
        }
        if let expect = head.headers.first(name: "expect") {
            guard expect.lowercased() == "100-continue" else {
                reject(context, .plain(.expectationFailed, "unsupported expectation", close: true))
                return .refused
            }
            if !responding, queue.isEmpty, head.version.major == 1, head.version.minor >= 1 {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
                timeouts?.wrote()
            }
        }
        let hasBody = (declared ?? 0) > 0 || head.headers.contains(name: "transfer-encoding")
        guard hasBody else { return .accepted(nil) }
        let upload = UploadStream(contentLength: declared)
        let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        upload.setOnDrained {
            eventLoop.execute {
                let (handler, context) = loop.value
                handler.uploadDrained(context: context)
            }
        }
        return .accepted(upload)
    }

    private func receiveEnd() {
        timeouts?.requestComplete()
        switch receiving {
        case .body(let upload, _):
            upload?.finish(success: true)
            receiving = .idle
        case .idle, .discarding:
            break
        }
    }

    /// Refuses the request whose body is arriving: the body stops (the origin transfer aborts, so
    /// the origin never sees a complete request) and its answer becomes `answer`.
    private func failUpload(_ context: ChannelHandlerContext, _ answer: ProxyResponse) {
        guard case .body(let upload, _) = receiving else {
            reject(context, answer)
            return
        }
        receiving = .discarding
        guard let upload else {
            reject(context, answer)
            return
        }
        upload.finish(success: false)
        failedUpload = (upload, answer)
    }

    /// A request was answered: if its body is still arriving, the rest is read and dropped.
    private func detachUpload(_ upload: UploadStream?, context: ChannelHandlerContext) {
        guard let upload, case .body(let current?, let received) = receiving, current === upload else { return }
        receiving = .body(nil, received: received)
        upload.finish(success: false)
        uploadDrained(context: context)
    }

    /// The origin transfer caught up with the upload: read the client again.
    private func uploadDrained(context: ChannelHandlerContext) {
        uploadFull = false
        if readWithheld, !closed, queue.count < configuration.maxPipelinedRequests, context.channel.isWritable {
            readWithheld = false
            context.read()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush, let flushes {
            // Flushed with the loop's other answers at the end of its turn (`LoopFlushes`).
            if !flushWaiting {
                flushWaiting = true
                flushes.add(self)
            }
        } else {
            flushIfNeeded(context: context)
        }
        context.fireChannelReadComplete()
    }

    /// The loop's turn ended: flushes what the last read burst answered, unless it left already.
    func deferredFlush() {
        flushWaiting = false
        guard let context = ownContext else { return }
        flushIfNeeded(context: context)
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure (as NIO's BackPressureHandler): while what we wrote has not drained, read
        // no more requests, so a client that sends and never reads costs its socket buffers and
        // at most `maxPipelinedRequests` queued requests.
        if queue.count >= configuration.maxPipelinedRequests || closed || uploadFull || !context.channel.isWritable {
            readWithheld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            processQueue(context: context)
            flushIfNeeded(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Quiesce {
            quiescing = true
            closeIfDone(context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            if !responding, queue.isEmpty, case .idle = receiving {
                close(context)
            } else if streaming != nil {
                // Nothing written for the idle timeout while a body streams: the client stopped
                // reading. Closing cancels the origin transfer behind it.
                close(context)
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            if case .headerOverflow = parserError {
                failUpload(context, .plain(.requestHeaderFieldsTooLarge, "request header fields too large", close: true))
            } else {
                failUpload(context, .plain(.badRequest, "malformed request", close: true))
            }
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            failUpload(context, .plain(.requestHeaderFieldsTooLarge, "request header fields too large", close: true))
        } else if error is NIOHTTPDecoderError || error is ByteToMessageDecoderError {
            failUpload(context, .plain(.badRequest, "malformed request", close: true))
        } else {
            // I/O errors: nothing useful can be written.
            close(context)
        }
    }

    // MARK: - Answering

    private func reject(_ context: ChannelHandlerContext, _ response: ProxyResponse) {
        guard !closed else { return }
        receiving = .discarding
        queue.append(.reject(response))
        processQueue(context: context)
    }

    private func processQueue(context: ChannelHandlerContext) {
        // Answers wait while the socket is full; `channelWritabilityChanged` resumes them.
        while !responding, !closed, context.channel.isWritable, let next = queue.popFirst() {
            switch consume next {
            case .reject(let response):
                _ = send(response, version: .http1_1, keepAlive: false, context: context)
                return
            case .request(let request, let number, let keepAliveAsked):
                guard answer(request, number: number, keepAliveAsked: keepAliveAsked, context: context) else { return }
            }
        }
        if !context.channel.isWritable { flushIfNeeded(context: context) }
        closeIfDone(context: context)
        if readWithheld, queue.count < configuration.maxPipelinedRequests, !closed, !uploadFull, context.channel.isWritable {
            readWithheld = false
            context.read()
        }
    }

    /// Whether a request that just arrived can be answered at once: nothing is queued before it,
    /// no answer is being produced or written, and the socket takes more.
    private func canAnswerAtOnce(context: ChannelHandlerContext) -> Bool {
        queue.isEmpty && !responding && !closed && context.channel.isWritable
    }

    /// Answers `request`, the next in order. Returns `true` when the one after it may be answered
    /// now; `false` when this answer is still being produced or written, or the connection closes
    /// after it.
    private func answer(_ request: ProxyRequest, number: UInt64, keepAliveAsked: Bool, context: ChannelHandlerContext) -> Bool {
        interimOpenFor = number
        let keepAlive = keepAliveAsked && !quiescing
        if let upload = request.upload, let failed = failedUpload, failed.upload === upload {
            // Refused before it was dispatched: the origin never hears of it.
            _ = send(failed.answer, version: request.head.version, keepAlive: false, upload: upload, context: context)
            return false
        }
        switch responder.respond(to: request, on: context.eventLoop) {
        case .immediate(let response):
            return send(response, version: request.head.version, keepAlive: keepAlive, upload: request.upload, context: context)
        case .deferred(let future):
            responding = true
            let version = request.head.version
            let upload = request.upload
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.responding = false
                let response: ProxyResponse
                switch result {
                case .success(let value): response = value
                case .failure(let error):
                    self.logger.error("responder failed", metadata: ["error": "\(error)"])
                    response = .plain(.internalServerError, "internal error")
                }
                guard !self.closed else {
                    response.stream?.cancel()
                    return
                }
                // A stop that began while the origin was asked closes after this answer.
                let keep = keepAlive && !self.quiescing
                if self.send(response, version: version, keepAlive: keep, upload: upload, context: context) {
                    // Outside a read burst no channelReadComplete will flush what the
                    // queue answers next, so flush here.
                    self.processQueue(context: context)
                    self.flushIfNeeded(context: context)
                }
            }
            return false
        }
    }

    /// Writes one response. Returns `true` when the next one may follow now; `false` when the
    /// connection closes after it, or its streamed body is still being written (the queue goes on
    /// when it ends).
    private func send(
        _ response: ProxyResponse, version: HTTPVersion, keepAlive: Bool, upload: UploadStream? = nil, context: ChannelHandlerContext
    ) -> Bool {
        interimOpenFor = nil
        if let upload, let failed = failedUpload, failed.upload === upload {
            failedUpload = nil
            response.stream?.cancel()
            write(failed.answer, keepAlive: false, context: context)
            return false
        }
        var keep = keepAlive && !response.closeConnection
        let http10 = version.major == 1 && version.minor == 0
        guard let stream = response.stream else {
            detachUpload(upload, context: context)
            write(response, keepAlive: keep, announceKeepAlive: http10, context: context)
            return keep
        }
        let wantsBody = !response.omitBody && ResponseEncoding.permitsBody(response.status)
        let chunked = version.major > 1 || (version.major == 1 && version.minor >= 1)
        let framed = wantsBody && response.streamLength == nil
        // An HTTP/1.0 client cannot take chunks: the body ends with the connection.
        if framed, !chunked { keep = false }
        guard wantsBody else {
            detachUpload(upload, context: context)
            stream.cancel()
            write(response, keepAlive: keep, announceKeepAlive: http10, chunked: chunked, context: context)
            return keep
        }
        let (head, _) = ResponseEncoding.encode(
            response, keepAlive: keep, announceKeepAlive: http10, chunked: chunked, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(head), promise: nil)
        context.flush()
        timeouts?.wrote()
        needsFlush = false
        responding = true
        streaming = stream
        let chunkedFraming = framed && chunked
        let eventLoop = context.eventLoop
        stream.start(
            onPart: { part in
                guard !self.closed else { return eventLoop.makeSucceededVoidFuture() }
                self.timeouts?.wrote()
                guard chunkedFraming else { return context.writeAndFlush(self.wrapOutboundOut(part)) }
                var size = context.channel.allocator.buffer(capacity: 12)
                size.writeString(String(part.readableBytes, radix: 16))
                size.writeStaticString("\r\n")
                context.write(self.wrapOutboundOut(size), promise: nil)
                context.write(self.wrapOutboundOut(part), promise: nil)
                return context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(staticString: "\r\n")))
            },
            onEnd: { result in
                self.streaming = nil
                self.responding = false
                guard !self.closed else { return }
                self.timeouts?.wrote()
                self.detachUpload(upload, context: context)
                switch result {
                case .success:
                    if chunkedFraming { context.write(self.wrapOutboundOut(ByteBuffer(staticString: "0\r\n\r\n")), promise: nil) }
                    if keep {
                        self.needsFlush = true
                        self.processQueue(context: context)
                        self.flushIfNeeded(context: context)
                    } else {
                        self.closed = true
                        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                            context.close(promise: nil)
                        }
                    }
                case .failure(let error):
                    // The origin broke off: the client must see a truncated answer, never a
                    // complete-looking one, so the connection ends without the last chunk.
                    self.logger.warning("origin body broke off", metadata: ["error": "\(error)"])
                    self.closed = true
                    context.flush()
                    context.close(promise: nil)
                }
            })
        return false
    }

    /// Where the interim responses of a request go, or `nil` for an HTTP/1.0 client, which must
    /// never get one (RFC 9110 §15.2). One sink per connection, made on first use.
    private func interimSink(version: HTTPVersion, context: ChannelHandlerContext) -> InterimRelay? {
        guard version.major > 1 || (version.major == 1 && version.minor >= 1) else { return nil }
        if let interimRelay { return interimRelay }
        let relay = InterimRelay(NIOLoopBound((self, context), eventLoop: context.eventLoop))
        interimRelay = relay
        return relay
    }

    /// Writes an interim response of the request being answered, before its final head.
    func writeInterim(_ interim: InterimResponse, for number: UInt64, context: ChannelHandlerContext) {
        guard !closed, interimOpenFor == number else { return }
        timeouts?.wrote()
        context.writeAndFlush(wrapOutboundOut(ResponseEncoding.encode(interim, allocator: context.channel.allocator)), promise: nil)
    }

    /// Writes one response; when `keepAlive` is off, flushes and closes once it is on the wire.
    /// `announceKeepAlive`: an HTTP/1.0 client's kept-alive connection is announced in the answer.
    private func write(
        _ response: ProxyResponse, keepAlive: Bool, announceKeepAlive: Bool = false, chunked: Bool = false,
        context: ChannelHandlerContext
    ) {
        let body = ResponseEncoding.encode(
            response, keepAlive: keepAlive, announceKeepAlive: announceKeepAlive, chunked: chunked, into: &headScratch,
            allocator: context.channel.allocator)
        let head = headScratch!
        if head.capacity > Self.retainedHeadCapacity { headScratch = nil }
        timeouts?.wrote()
        guard !keepAlive else {
            context.write(wrapOutboundOut(head), promise: nil)
            if let body { writeBody(body, file: response.bodyFile, context: context, promise: nil) }
            needsFlush = true
            return
        }
        closed = true
        needsFlush = false
        let written = context.eventLoop.makePromise(of: Void.self)
        if let body {
            context.write(wrapOutboundOut(head), promise: nil)
            writeBody(body, file: response.bodyFile, context: context, promise: written)
        } else {
            context.write(wrapOutboundOut(head), promise: written)
        }
        context.flush()
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Writes a body after its head: with `sendfile` from the entry's in-memory mirror when the
    /// response has one (kept alive, with the loop's descriptor on it, until the write is done),
    /// else from memory.
    private func writeBody(_ body: ByteBuffer, file: BodyFile?, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let file, file.length == body.readableBytes, let region = file.region(on: context.eventLoop) else {
            context.write(wrapOutboundOut(body), promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.whenComplete { _ in withExtendedLifetime(file) {} }
        context.write(NIOAny(IOData.fileRegion(region)), promise: written)
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard quiescing, !responding, queue.isEmpty else { return }
        if case .body = receiving { return }
        flushIfNeeded(context: context)
        close(context)
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        context.close(promise: nil)
    }
}
