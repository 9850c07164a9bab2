public import NIOCore
public import NIOHTTP1

/// A client request, as the listener hands it to the responder: the head is complete, the body
/// (if any) streams in through `upload` while the request is answered.
public struct ProxyRequest: Sendable {
    /// Method, target, version and header fields.
    public var head: HTTPRequestHead
    /// The request body as it arrives, when the request has one.
    public var upload: UploadStream?
    /// The peer's address, without the port (`127.0.0.1`, `::1`).
    public var peer: String
    /// The head's number on its connection's fast path (`RememberedHead`), or 0: two requests
    /// with the same nonzero serial, less than 16 million heads apart on their connection, have
    /// the same head, read from the same bytes by that connection, so their method, target and
    /// fields are the same.
    public var headSerial: UInt64 = 0
    /// The connection's memo (`RequestMemo`), or `nil`: what the responder worked out from a
    /// head with `headSerial`, taken again for the next request with it.
    public var memo: RequestMemo?
    /// Where this request's interim responses go, and the request's number there: a connection
    /// hands every request the same sink, so a request costs no closure allocation.
    private var interimSink: (any InterimResponseSink)?
    private var interimNumber: UInt64 = 0

    /// Writes an interim (1xx) response to the client ahead of this request's final answer, from
    /// any thread; once the final head is on its way, further calls do nothing. `nil` when the
    /// client must not get one (an HTTP/1.0 client, RFC 9110 §15.2) or nobody listens (warming).
    public var interim: (@Sendable (InterimResponse) -> Void)? {
        get {
            guard let sink = interimSink else { return nil }
            let number = interimNumber
            return { interim in sink.writeInterim(interim, forRequest: number) }
        }
        set {
            interimSink = newValue.map(ClosureInterimSink.init)
            interimNumber = 0
        }
    }

    /// Creates a request; a `body` is wrapped in a finished `UploadStream`.
    public init(
        head: HTTPRequestHead, body: ByteBuffer? = nil, upload: UploadStream? = nil, peer: String = "",
        interim: (@Sendable (InterimResponse) -> Void)? = nil
    ) {
        self.head = head
        self.interimSink = interim.map(ClosureInterimSink.init)
        self.upload = upload ?? body.map(UploadStream.complete)
        self.peer = peer
    }

    /// Creates a request whose interim responses go to `interimSink` as those of request
    /// `number` there (`nil`: none may be sent); `headSerial` and `memo` as the properties.
    public init(
        head: HTTPRequestHead, upload: UploadStream?, peer: String, interimSink: (any InterimResponseSink)?, number: UInt64,
        headSerial: UInt64 = 0, memo: RequestMemo? = nil
    ) {
        self.head = head
        self.headSerial = headSerial
        self.memo = memo
        self.upload = upload
        self.peer = peer
        self.interimSink = interimSink
        self.interimNumber = number
    }
}

/// Takes the interim (1xx) responses of the requests of one connection.
public protocol InterimResponseSink: AnyObject, Sendable {
    /// Writes `interim` ahead of the final answer of request `number`, from any thread; does
    /// nothing once that answer's head is on its way.
    func writeInterim(_ interim: InterimResponse, forRequest number: UInt64)
}

/// A sink that is one closure, for requests made outside a listener.
final class ClosureInterimSink: InterimResponseSink {
    private let write: @Sendable (InterimResponse) -> Void

    init(_ write: @escaping @Sendable (InterimResponse) -> Void) {
        self.write = write
    }

    func writeInterim(_ interim: InterimResponse, forRequest number: UInt64) {
        write(interim)
    }
}

/// A response body that streams: the listener starts it after writing the head and writes each
/// part as it comes, or cancels it when the client does not want it (HEAD, 304) or went away.
/// Exactly one of `start` and `cancel` is called first, on the response's event loop.
public protocol StreamingBody: AnyObject, Sendable {
    /// Delivers the parts in order; `onPart`'s future completes when the part is on the wire,
    /// which is what lets the producer go on. `onEnd` follows the last part once.
    func start(onPart: @escaping (ByteBuffer) -> EventLoopFuture<Void>, onEnd: @escaping (Result<Void, any Error>) -> Void)
    /// The client does not want the body (any more).
    func cancel()
}

extension BodyStream: StreamingBody {}

/// The `Cache-Status` member of a response, kept structured so the listener can write the
/// common hit form straight into the output buffer without building a string first.
public enum CacheStatusValue: Sendable, Equatable {
    /// `paca; hit; ttl=N; detail=TIER`
    case hit(ttl: Int64, tier: String)
    /// Any other member, as text.
    case text(String)
}

/// A complete response. The listener writes `headerBlock` as it is (pre-encoded lines, shared
/// with a cache entry), then `headers`, then `Age` and `Cache-Status`, then a `Content-Length`
/// it computes, then `body`.
public struct ProxyResponse: Sendable {
    /// The status.
    public var status: HTTPResponseStatus
    /// Pre-encoded `Name: value\r\n` lines, written first and without copying the body.
    public var headerBlock: ByteBuffer?
    /// Further fields, written after `headerBlock`.
    public var headers: HTTPHeaders
    /// The body; `nil` for none.
    public var body: ByteBuffer?
    /// A body that streams instead of `body`; written with `Content-Length: streamLength`, or
    /// chunked when its length is unknown.
    public var stream: (any StreamingBody)?
    /// The length of `stream` when known.
    public var streamLength: Int?
    /// Send the headers (with the body's `Content-Length`) but not the body: an answer to HEAD.
    public var omitBody: Bool
    /// Close the connection after this response.
    public var closeConnection: Bool
    /// `Age` in seconds, written by the listener when set.
    public var age: Int64?
    /// `Cache-Status` (RFC 9211), written by the listener when set.
    public var cacheStatus: CacheStatusValue?
    /// `body` mirrored in an in-memory file: the listener sends this with `sendfile` instead of
    /// writing `body` from memory. Set only when it holds exactly the bytes of `body`.
    public var bodyFile: BodyFile?

    /// When the engine built this answer (uptime clock), if it read the clock then anyway (for
    /// the access log): the request's duration is measured to it, not to a second reading.
    public var answeredAt: NIODeadline?

    /// Creates a response. Inlinable: the hit path builds one per request in another module, and
    /// an opaque call there cost about 420 instructions.
    @inlinable
    public init(
        status: HTTPResponseStatus,
        headerBlock: ByteBuffer? = nil,
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer? = nil,
        omitBody: Bool = false,
        closeConnection: Bool = false,
        age: Int64? = nil,
        cacheStatus: CacheStatusValue? = nil,
        bodyFile: BodyFile? = nil,
        answeredAt: NIODeadline? = nil
    ) {
        self.answeredAt = answeredAt
        self.status = status
        self.headerBlock = headerBlock
        self.headers = headers
        self.body = body
        self.omitBody = omitBody
        self.closeConnection = closeConnection
        self.age = age
        self.cacheStatus = cacheStatus
        self.bodyFile = bodyFile
    }

    /// A small locally generated plain-text answer (errors, 404).
    public static func plain(_ status: HTTPResponseStatus, _ message: String, close: Bool = false) -> ProxyResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        return ProxyResponse(
            status: status,
            headers: headers,
            body: ByteBuffer(string: message + "\n"),
            closeConnection: close
        )
    }
}

/// What a responder gives back: an answer now (the hit path, on the connection's event loop), or
/// one later (anything that had to wait on the origin, a disk or Redis).
public enum ProxyResult: Sendable {
    /// The response is ready.
    case immediate(ProxyResponse)
    /// The response will be ready when the future completes (on the connection's loop).
    case deferred(EventLoopFuture<ProxyResponse>)
}

/// The seam between the listener (which knows sockets) and the engine (which knows caching).
public protocol ProxyResponder: Sendable {
    /// Answers one request. Called on the connection's event loop; must not block it.
    func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult
}
