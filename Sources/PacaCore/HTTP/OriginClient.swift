public import NIOCore
public import PacaHTTPCaching

/// A request to an origin server.
public struct OriginRequest: Sendable {
    /// The method, as sent (`GET`, `POST`, …).
    public var method: String
    /// The absolute URL (`http://127.0.0.1:9000/api/users/1?id=2`).
    public var url: String
    /// Header fields to send; hop-by-hop fields must already be gone.
    public var headers: [HTTPField]
    /// The body to send, if any, streamed as the client sends it.
    public var upload: UploadStream?
    /// Limit for establishing the connection.
    public var connectTimeout: Duration
    /// Limit for the whole exchange.
    public var totalTimeout: Duration
    /// Largest response body accepted; a larger one fails with `OriginError.responseTooLarge`.
    public var maxResponseBytes: Int
    /// Told of each interim (1xx) response the origin sends before the final one that a proxy
    /// relays (`InterimResponse.relayable`), in order and before the head is delivered; called on
    /// the client's own thread. `nil` (the default) drops them: a fill nobody waits on, a warm-up.
    public var onInterim: (@Sendable (InterimResponse) -> Void)?

    /// Creates a request. Defaults: 5 s to connect; 30 s for the answer's head and at most that
    /// long without a byte while the body flows (time the client spends not reading does not
    /// count); no limit on the response body. `body` is sent whole; `upload` streams.
    public init(
        method: String,
        url: String,
        headers: [HTTPField] = [],
        body: ByteBuffer? = nil,
        upload: UploadStream? = nil,
        connectTimeout: Duration = .seconds(5),
        totalTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = .max,
        onInterim: (@Sendable (InterimResponse) -> Void)? = nil
    ) {
        self.onInterim = onInterim
        self.method = method
        self.url = url
        self.headers = headers
        self.upload = upload ?? body.map(UploadStream.complete)
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxResponseBytes = maxResponseBytes
    }
}

/// An interim (informational, 1xx) response (RFC 9110 §15.2), as relayed ahead of the final
/// one: `102 Processing`, `103 Early Hints`. Never stored, and its fields never join the final
/// response's.
public struct InterimResponse: Sendable, Equatable {
    /// The status, 102…199.
    public var status: Int
    /// The end-to-end fields (hop-by-hop ones removed).
    public var headers: [HTTPField]

    /// Creates an interim response as it is.
    public init(status: Int, headers: [HTTPField]) {
        self.status = status
        self.headers = headers
    }

    /// What a proxy relays of an origin's 1xx block (RFC 9110 §15.2), or `nil` for one it keeps
    /// to itself: `100 Continue` (paca answers `Expect: 100-continue` itself and never forwards
    /// the expectation, so an origin's 100 would be a second one), `101 Switching Protocols`
    /// (paca does not relay upgrades) and anything outside 1xx. Hop-by-hop fields, and the names
    /// `Connection` lists, are removed (RFC 9110 §7.6.1).
    public static func relayable(status: Int, headers: [HTTPField]) -> InterimResponse? {
        guard status >= 102, status <= 199 else { return nil }
        let hopByHop = HopByHop.names(in: headers)
        return InterimResponse(status: status, headers: headers.filter { !hopByHop.contains($0.name.lowercased()) })
    }
}

/// An origin's complete answer.
public struct OriginResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields as received (hop-by-hop fields still present).
    public var headers: [HTTPField]
    /// The body (identity or as the origin encoded it).
    public var body: ByteBuffer
    /// Wall time the request was sent.
    public var requestTime: UnixMillis
    /// Wall time the response was complete.
    public var responseTime: UnixMillis

    /// Creates a response.
    public init(status: Int, headers: [HTTPField], body: ByteBuffer, requestTime: UnixMillis, responseTime: UnixMillis) {
        self.status = status
        self.headers = headers
        self.body = body
        self.requestTime = requestTime
        self.responseTime = responseTime
    }
}

extension OriginResponse {
    /// This whole response as a streamed one (its `Content-Length` set to the body's size): for
    /// origins in memory, such as test doubles.
    public func streaming(on eventLoop: any EventLoop) -> OriginStreamingResponse {
        var fields = headers.filter { $0.name.lowercased() != "content-length" }
        fields.append(HTTPField(name: "Content-Length", value: String(body.readableBytes)))
        return OriginStreamingResponse(
            status: status, headers: fields, body: BodyStream.complete(body, on: eventLoop), requestTime: requestTime,
            responseTime: responseTime)
    }
}

/// An origin's answer as it arrives: the head now, the body as a stream with backpressure.
public struct OriginStreamingResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields as received (hop-by-hop fields still present).
    public var headers: [HTTPField]
    /// The body, consumed on the requesting event loop.
    public var body: BodyStream
    /// Wall time the request was sent.
    public var requestTime: UnixMillis
    /// Wall time the head was complete.
    public var responseTime: UnixMillis

    /// Creates a response.
    public init(status: Int, headers: [HTTPField], body: BodyStream, requestTime: UnixMillis, responseTime: UnixMillis) {
        self.status = status
        self.headers = headers
        self.body = body
        self.requestTime = requestTime
        self.responseTime = responseTime
    }

    /// The body's length from a single valid `Content-Length`, when the origin sent one and no
    /// `Transfer-Encoding`: with both, the transfer coding frames the body and `Content-Length`
    /// means nothing (RFC 9112 §6.3).
    public var contentLength: Int? {
        guard !headers.contains("transfer-encoding") else { return nil }
        let values = headers.values("content-length")
        guard let first = values.first, values.allSatisfy({ $0 == first }) else { return nil }
        return Int(first.trimmingSpaces()).flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// Why an origin exchange failed.
public enum OriginError: Error, Sendable, Equatable {
    /// The connection could not be made (refused, unreachable, DNS), or broke before the origin
    /// sent a status line (reset, closed without a reply).
    case connectFailed(String)
    /// The connect or total timeout ran out.
    case timedOut(String)
    /// The response body exceeded the limit.
    case responseTooLarge(limit: Int)
    /// The origin broke the protocol or the connection.
    case protocolError(String)
    /// The client is shutting down.
    case shutDown

    /// Whether the origin could not be reached at all — a failed connect or DNS lookup, or a
    /// timeout — as opposed to an answer that was bad or too large. The route's
    /// `stale_if_unreachable` covers these only (RFC 9111 §4.2.4, "disconnected").
    public var isUnreachable: Bool {
        switch self {
        case .connectFailed, .timedOut: true
        case .responseTooLarge, .protocolError, .shutDown: false
        }
    }

    /// A one-line description for logs and error bodies.
    public var message: String {
        switch self {
        case .connectFailed(let detail): "cannot connect to origin: \(detail)"
        case .timedOut(let detail): "origin timed out: \(detail)"
        case .responseTooLarge(let limit): "origin response larger than \(limit) bytes"
        case .protocolError(let detail): "bad answer from origin: \(detail)"
        case .shutDown: "proxy is shutting down"
        }
    }
}

/// Fetches from origins. Completes on `eventLoop`; never blocks it.
public protocol OriginClient: Sendable {
    /// Sends `request`; the future completes with the head once it has arrived, and the body
    /// follows through the response's `BodyStream` (consumed on `eventLoop`).
    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse>
}

extension OriginClient {
    /// Sends `request` and completes with the whole response (for small answers: tests, tools).
    public func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        stream(request, on: eventLoop).flatMap { $0.collect(on: eventLoop) }
    }
}

extension OriginStreamingResponse {
    /// Reads the whole body (for small answers: the caller bounds the size).
    public func collect(on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        let promise = eventLoop.makePromise(of: OriginResponse.self)
        let collected = NIOLoopBoundBox(ByteBufferAllocator().buffer(capacity: contentLength ?? 0), eventLoop: eventLoop)
        body.start(
            onPart: { part in
                collected.value.writeImmutableBuffer(part)
                return eventLoop.makeSucceededVoidFuture()
            },
            onEnd: { result in
                switch result {
                case .success:
                    promise.succeed(
                        OriginResponse(
                            status: status, headers: headers, body: collected.value, requestTime: requestTime, responseTime: responseTime))
                case .failure(let error):
                    promise.fail(error)
                }
            })
        return promise.futureResult
    }
}
