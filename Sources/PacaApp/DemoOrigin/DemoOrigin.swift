import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaServer

/// `paca demo-origin`: serves the files under `<fixtures>/origin` with the headers that
/// `<fixtures>/origin/_headers.json` assigns, after an artificial latency. `/X` serves
/// `origin/X`, else `origin/X.json`. Files are read once at start, so no request touches the disk.
/// Answers `If-None-Match` with 304. `POST`, `PUT`, `PATCH` and `DELETE` under `/api/` are
/// accepted (201 with a `Location`, or 204) and change nothing, so demos can show a write
/// invalidating cached reads. Every answer carries `X-Origin-Request: N`, a counter, so tests and
/// demos can see when the origin was asked.
public final class DemoOrigin: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// The fixtures directory (holding `origin/`).
        public var fixtures: String
        /// Address to bind. Default `127.0.0.1`.
        public var host: String
        /// Port; 0 picks a free one. Default 9000.
        public var port: Int
        /// Delay before each answer. Default 50 ms.
        public var latency: Duration

        /// Creates a configuration with the defaults above.
        public init(fixtures: String = "fixtures", host: String = "127.0.0.1", port: Int = 9000, latency: Duration = .milliseconds(50)) {
            self.fixtures = fixtures
            self.host = host
            self.port = port
            self.latency = latency
        }
    }

    struct Document: Sendable {
        let body: ByteBuffer
        let headers: [(String, String)]
        let etag: String
    }

    private let configuration: Configuration
    private let documents: [String: Document]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    let counter = NIOLockedValueBox<Int>(0)

    /// Loads the fixtures; throws when the directory or `_headers.json` cannot be read.
    public init(configuration: Configuration, group: any EventLoopGroup, logger: Logger = Logger(label: "paca.demo-origin")) throws {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.documents = try Self.loadDocuments(from: configuration.fixtures + "/origin")
    }

    /// How many documents were loaded.
    public var documentCount: Int { documents.count }

    /// Binds and serves; returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let documents = self.documents
        let latency = TimeAmount.milliseconds(configuration.latency.milliseconds)
        let counter = self.counter
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 512)
            // Out of descriptors, the listener pauses instead of spinning a core (as paca's own).
            .serverChannelInitializer { [logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoff(logger: logger))
                }
            }
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(
                        DemoOriginHandler(documents: documents, latency: latency, counter: counter))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        self.channel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ServerError.noLocalAddress }
        logger.info("demo origin listening", metadata: ["address": "\(address)", "documents": "\(documents.count)"])
        return address
    }

    /// The listening channel (after `start`, before `shutdown`).
    var listener: (any Channel)? {
        channel.withLockedValue { $0 }
    }

    /// Stops listening.
    public func shutdown() async {
        let channel = self.channel.withLockedValue { $0 }
        try? await channel?.close()
    }

    static func loadDocuments(from root: String) throws -> [String: Document] {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DemoOriginError.missingDirectory(root)
        }
        var rules: [(Glob, [(String, String)])] = []
        var fallback: [(String, String)] = [("Cache-Control", "public, max-age=30")]
        if let data = manager.contents(atPath: root + "/_headers.json") {
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw DemoOriginError.badHeaders(root + "/_headers.json")
            }
            for rule in json["rules"] as? [[String: Any]] ?? [] {
                guard let match = rule["match"] as? String, let headers = rule["headers"] as? [String: String] else { continue }
                rules.append((Glob(match), headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
            }
            if let headers = json["default"] as? [String: String] {
                fallback = headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            }
        }
        var documents: [String: Document] = [:]
        guard let enumerator = manager.enumerator(atPath: root) else { return documents }
        while let relative = enumerator.nextObject() as? String {
            let full = root + "/" + relative
            var directory: ObjCBool = false
            guard manager.fileExists(atPath: full, isDirectory: &directory), !directory.boolValue, relative != "_headers.json",
                let data = manager.contents(atPath: full)
            else { continue }
            let path = "/" + relative
            let attributes = try? manager.attributesOfItem(atPath: full)
            let modified = (attributes?[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 1_700_000_000)
            let etag = "\"\(FNV1a.hex(String(decoding: data, as: UTF8.self)))\""
            var headers = rules.first(where: { $0.0.matches(path) || $0.0.matches(Self.stripJSON(path)) })?.1 ?? fallback
            headers.append(("Content-Type", contentType(relative)))
            headers.append(("ETag", etag))
            headers.append(("Last-Modified", HTTPDate.format(unixSeconds: Int64(modified.timeIntervalSince1970))))
            let document = Document(body: ByteBuffer(bytes: data), headers: headers, etag: etag)
            documents[path] = document
            if path.hasSuffix(".json") { documents[stripJSON(path)] = documents[stripJSON(path)] ?? document }
        }
        return documents
    }

    /// Methods accepted on any path under `/api/`: `POST` answers `201 Created` with a
    /// `Location` of `<path>/<request number>`, the others `204 No Content`. Nothing is stored.
    static let writeMethods: [HTTPMethod] = [.POST, .PUT, .PATCH, .DELETE]

    static func stripJSON(_ path: String) -> String {
        path.hasSuffix(".json") ? String(path.dropLast(5)) : path
    }

    static func contentType(_ path: String) -> String {
        if path.hasSuffix(".json") { return "application/json" }
        if path.hasSuffix(".html") { return "text/html; charset=utf-8" }
        if path.hasSuffix(".txt") { return "text/plain; charset=utf-8" }
        return "application/octet-stream"
    }
}

/// Demo-origin failures.
public enum DemoOriginError: Error, CustomStringConvertible {
    case missingDirectory(String)
    case badHeaders(String)

    public var description: String {
        switch self {
        case .missingDirectory(let path): "fixtures directory \(path) not found"
        case .badHeaders(let path): "\(path) is not a JSON object with \"rules\""
        }
    }
}

final class DemoOriginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let documents: [String: DemoOrigin.Document]
    private let latency: TimeAmount
    private let counter: NIOLockedValueBox<Int>
    private var head: HTTPRequestHead?

    init(documents: [String: DemoOrigin.Document], latency: TimeAmount, counter: NIOLockedValueBox<Int>) {
        self.documents = documents
        self.latency = latency
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let number = counter.withLockedValue { value -> Int in
                value += 1
                return value
            }
            let context = NIOLoopBound(context, eventLoop: context.eventLoop)
            let respond = { [self] in self.respond(context: context.value, head: head, number: number) }
            if latency > .zero {
                context.value.eventLoop.assumeIsolated().scheduleTask(in: latency) { respond() }
            } else {
                respond()
            }
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, number: Int) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
        var headers = HTTPHeaders()
        headers.add(name: "Date", value: HTTPDate.format(unixSeconds: Int64(Date().timeIntervalSince1970)))
        headers.add(name: "X-Origin-Request", value: String(number))
        let status: HTTPResponseStatus
        var body: ByteBuffer?
        // List pages are stored under their literal names (`products?page=2.json`).
        let found = documents[head.uri] ?? documents[path]
        if path.hasPrefix("/api/"), DemoOrigin.writeMethods.contains(head.method) {
            // Writes are accepted and forgotten: enough for the proxy to show that a successful
            // unsafe method invalidates what it names (the target and `Location`).
            if head.method == .POST {
                status = .created
                let location = (path.hasSuffix("/") ? String(path.dropLast()) : path) + "/\(number)"
                headers.add(name: "Location", value: location)
                headers.add(name: "Content-Type", value: "application/json")
                body = ByteBuffer(string: "{\"created\":\"\(location.replacingOccurrences(of: "\"", with: ""))\"}")
                headers.add(name: "Content-Length", value: String(body!.readableBytes))
            } else {
                status = .noContent
            }
        } else if let document = found, head.method == .GET || head.method == .HEAD {
            headers.add(contentsOf: document.headers)
            if head.headers["if-none-match"].contains(where: { $0.contains(document.etag) || $0 == "*" }) {
                status = .notModified
            } else {
                status = .ok
                body = document.body
                headers.add(name: "Content-Length", value: String(document.body.readableBytes))
            }
        } else if found != nil {
            status = .methodNotAllowed
            headers.add(name: "Allow", value: path.hasPrefix("/api/") ? "GET, HEAD, POST, PUT, PATCH, DELETE" : "GET, HEAD")
            headers.add(name: "Content-Length", value: "0")
        } else {
            status = .notFound
            headers.add(name: "Cache-Control", value: "public, max-age=10")
            headers.add(name: "Content-Type", value: "application/json")
            body = ByteBuffer(string: "{\"error\":\"not found\",\"path\":\"\(path.replacingOccurrences(of: "\"", with: ""))\"}")
            headers.add(name: "Content-Length", value: String(body!.readableBytes))
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let body, head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
