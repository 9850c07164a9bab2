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
    /// The body to send, if any.
    public var body: ByteBuffer?
    /// Limit for establishing the connection.
    public var connectTimeout: Duration
    /// Limit for the whole exchange.
    public var totalTimeout: Duration
    /// Largest response body accepted; a larger one fails with `OriginError.responseTooLarge`.
    public var maxResponseBytes: Int

    /// Creates a request. Defaults: 5 s to connect, 30 s in all, 64 MiB of response body.
    public init(
        method: String,
        url: String,
        headers: [HTTPField] = [],
        body: ByteBuffer? = nil,
        connectTimeout: Duration = .seconds(5),
        totalTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 64 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxResponseBytes = maxResponseBytes
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

/// Why an origin exchange failed.
public enum OriginError: Error, Sendable, Equatable {
    /// The connection could not be made (refused, unreachable, DNS).
    case connectFailed(String)
    /// The connect or total timeout ran out.
    case timedOut(String)
    /// The response body exceeded the limit.
    case responseTooLarge(limit: Int)
    /// The origin broke the protocol or the connection.
    case protocolError(String)
    /// The client is shutting down.
    case shutDown

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
    /// Sends `request` and completes with the whole response.
    func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse>
}
