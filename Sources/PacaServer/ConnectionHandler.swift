import Logging
import NIOCore
import NIOHTTP1
import PacaCore

/// One connection: assembles requests from NIO's decoded parts, answers them strictly in order
/// (a pipelined request waits for the one before it), pauses reading when too many are queued,
/// and turns protocol errors into a final 400/413/431 followed by closing the connection.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent by `HTTPServer.shutdown`: finish what was asked, then close.
    struct Quiesce {}

    private enum Pending {
        case request(ProxyRequest)
        /// A final error answer; the connection closes after it.
        case reject(ProxyResponse)
    }

    /// Where the request being received stands.
    private enum Receiving {
        case idle
        case body(ProxyRequest)
        /// The request was refused mid-way; its remaining parts are dropped.
        case discarding
    }

    private let configuration: HTTPServer.Configuration
    private let responder: any ProxyResponder
    private let logger: Logger
    private var receiving = Receiving.idle
    private var queue = CircularBuffer<Pending>(initialCapacity: 4)
    private var responding = false
    private var quiescing = false
    private var closed = false
    private var readWithheld = false
    private var needsFlush = false
    private var peer = ""

    init(configuration: HTTPServer.Configuration, responder: any ProxyResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress?.ipAddress ?? ""
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = receiving else { return }
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > configuration.maxBodyBytes {
                reject(context, .plain(.payloadTooLarge, "request body larger than \(configuration.maxBodyBytes) bytes", close: true))
                return
            }
            if let expect = head.headers.first(name: "expect") {
                guard expect.lowercased() == "100-continue" else {
                    reject(context, .plain(.expectationFailed, "unsupported expectation", close: true))
                    return
                }
                if !responding, queue.isEmpty, head.version.major == 1, head.version.minor >= 1 {
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
                }
            }
            context.triggerUserOutboundEvent(HeadTimeoutHandler.HeadReceived(), promise: nil)
            receiving = .body(ProxyRequest(head: head, body: nil, peer: peer))
        case .body(var chunk):
            guard case .body(var request) = receiving else { return }
            let size = (request.body?.readableBytes ?? 0) + chunk.readableBytes
            guard size <= configuration.maxBodyBytes else {
                reject(context, .plain(.payloadTooLarge, "request body larger than \(configuration.maxBodyBytes) bytes", close: true))
                return
            }
            receiving = .idle  // drop the reference so the body buffer is uniquely held while appending
            if request.body == nil {
                request.body = chunk
            } else {
                request.body!.writeBuffer(&chunk)
            }
            receiving = .body(request)
        case .end:
            context.triggerUserOutboundEvent(HeadTimeoutHandler.RequestComplete(), promise: nil)
            switch receiving {
            case .body(let request):
                receiving = .idle
                queue.append(.request(request))
                processQueue(context: context)
            case .idle, .discarding:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure (as NIO's BackPressureHandler): while what we wrote has not drained, read
        // no more requests, so a client that sends and never reads costs its socket buffers and
        // at most `maxPipelinedRequests` queued requests.
        if queue.count >= configuration.maxPipelinedRequests || closed || !context.channel.isWritable {
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
            if !responding, queue.isEmpty, case .idle = receiving { close(context) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            if case .headerOverflow = parserError {
                reject(context, .plain(.requestHeaderFieldsTooLarge, "request header fields too large", close: true))
            } else {
                reject(context, .plain(.badRequest, "malformed request", close: true))
            }
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            reject(context, .plain(.requestHeaderFieldsTooLarge, "request header fields too large", close: true))
        } else if error is NIOHTTPDecoderError || error is ByteToMessageDecoderError {
            reject(context, .plain(.badRequest, "malformed request", close: true))
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
            switch next {
            case .reject(let response):
                write(response, keepAlive: false, context: context, thenClose: true)
                return
            case .request(let request):
                let keepAlive = request.head.isKeepAlive && !quiescing
                switch responder.respond(to: request, on: context.eventLoop) {
                case .immediate(let response):
                    let keep = keepAlive && !response.closeConnection
                    write(response, keepAlive: keep, context: context, thenClose: !keep)
                    if !keep { return }
                case .deferred(let future):
                    responding = true
                    future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                        self.responding = false
                        guard !self.closed else { return }
                        let response: ProxyResponse
                        switch result {
                        case .success(let value): response = value
                        case .failure(let error):
                            self.logger.error("responder failed", metadata: ["error": "\(error)"])
                            response = .plain(.internalServerError, "internal error")
                        }
                        // A stop that began while the origin was asked closes after this answer.
                        let keep = keepAlive && !response.closeConnection && !self.quiescing
                        self.write(response, keepAlive: keep, context: context, thenClose: !keep)
                        if keep {
                            // Outside a read burst no channelReadComplete will flush what the
                            // queue answers next, so flush here.
                            self.processQueue(context: context)
                            self.flushIfNeeded(context: context)
                        }
                    }
                    return
                }
            }
        }
        if !context.channel.isWritable { flushIfNeeded(context: context) }
        closeIfDone(context: context)
        if readWithheld, queue.count < configuration.maxPipelinedRequests, !closed, context.channel.isWritable {
            readWithheld = false
            context.read()
        }
    }

    /// Writes one response; with `thenClose`, flushes and closes once it is on the wire.
    private func write(_ response: ProxyResponse, keepAlive: Bool, context: ChannelHandlerContext, thenClose: Bool = false) {
        let (head, body) = ResponseEncoding.encode(response, keepAlive: keepAlive, allocator: context.channel.allocator)
        guard thenClose else {
            context.write(wrapOutboundOut(head), promise: nil)
            if let body { context.write(wrapOutboundOut(body), promise: nil) }
            needsFlush = true
            return
        }
        closed = true
        needsFlush = false
        let written: EventLoopFuture<Void>
        if let body {
            context.write(wrapOutboundOut(head), promise: nil)
            written = context.writeAndFlush(wrapOutboundOut(body))
        } else {
            written = context.writeAndFlush(wrapOutboundOut(head))
        }
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
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
