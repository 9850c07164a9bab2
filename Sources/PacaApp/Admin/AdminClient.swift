public import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client for the admin API (`paca stats`): one request per connection over
/// NIO, so the CLI needs neither Foundation's networking nor libcurl.
public enum AdminClient {
    /// What the admin API answered.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// The body as text.
        public var body: String
    }

    /// Why a request could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// One line for the terminal.
        public var description: String
    }

    /// `GET path` (or another method) against `base` (`http://host:port`), with the token as a
    /// bearer token when given. Gives up after `timeout`.
    public static func request(
        _ method: String = "GET", base: String, path: String, token: String?, body: String? = nil,
        timeout: TimeAmount = .seconds(10), group: any EventLoopGroup
    ) async throws(Failure) -> Response {
        guard let (host, port) = parse(base) else {
            throw Failure(description: "--admin: expected http://host:port, got \"\(base)\"")
        }
        let promise = group.next().makePromise(of: Response.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Collector(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw Failure(description: "cannot connect to the admin API at \(base): \(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Accept", value: "application/json")
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            channel.pipeline.fireErrorCaught(Failure(description: "the admin API at \(base) did not answer within \(timeout)"))
        }
        defer { deadline.cancel() }
        do {
            let response = try await promise.futureResult.get()
            channel.close(promise: nil)
            return response
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "the admin API at \(base) failed: \(error)")
        }
    }

    /// `http://host[:port]` → its parts (the port defaults to 80).
    static func parse(_ base: String) -> (String, Int)? {
        guard base.hasPrefix("http://") else { return nil }
        var authority = Substring(base.dropFirst("http://".count))
        while authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.isEmpty, !authority.contains("/") else { return nil }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, 80) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            return (host, port)
        }
        guard let colon = authority.lastIndex(of: ":") else { return (String(authority), 80) }
        guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        return (String(authority[..<colon]), port)
    }

    /// Collects the response and completes the promise at its end (or when the connection
    /// closes first).
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let promise: EventLoopPromise<Response>
        /// The promise is completed once: by the end of the response, an error or the close.
        private var done = false
        private var status = 0
        private var body = ByteBuffer()

        init(promise: EventLoopPromise<Response>) {
            self.promise = promise
        }

        private func finish(_ result: Result<Response, any Error>) {
            guard !done else { return }
            done = true
            promise.completeWith(result)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(var part): body.writeBuffer(&part)
            case .end: finish(.success(Response(status: status, body: String(buffer: body))))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failure(Failure(description: "the admin API closed the connection before answering")))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }
}
