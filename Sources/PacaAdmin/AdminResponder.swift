import Foundation
public import NIOCore
public import NIOHTTP1
public import PacaCore

/// What the admin API asks of the running proxy; `PacaApp` implements it.
public protocol AdminBackend: Sendable {
    /// Whether the proxy is stopping (`/healthz` answers 503).
    var isDraining: Bool { get }
    /// `/stats` as a JSON document.
    func statsJSON() async -> String
    /// `/metrics` in the Prometheus text format.
    func metricsText() async -> String
    /// `/routes` as a JSON document (secrets redacted).
    func routesJSON() -> String
    /// Runs a purge; the answer is a JSON document, or an error message for a 400.
    func purge(_ body: [String: Any]) async -> Result<String, AdminError>
    /// Reloads the configuration file; with `{"all": true}` every node sharing L3 reloads its own
    /// file. The answer is a JSON document, or why it was refused.
    func reload(_ body: [String: Any]) async -> Result<String, AdminError>
    /// `GET /prewarm`: the prewarmer's state as a JSON document, or why there is none.
    func prewarmStatus() async -> Result<String, AdminError>
    /// `POST /prewarm`: queues warming (`{"top": N}` or `{"urls": [...]}`); the answer is a JSON
    /// document, or why it was refused.
    func prewarm(_ body: [String: Any]) async -> Result<String, AdminError>
}

/// A refusal with its status and a one-line reason.
public struct AdminError: Error, Sendable {
    /// The status (400, 409, 422, …).
    public var status: HTTPResponseStatus
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The admin API (DESIGN.md §1 "Admin API"): served by the same HTTP/1.1 listener as the proxy,
/// on its own address, with `AdminSecurity` in front of every endpoint.
public final class AdminResponder: ProxyResponder {
    /// Largest request body read (a purge or reload request). Default 64 KiB.
    public static let maxBodyBytes = 64 << 10

    private let security: AdminSecurity
    private let backend: any AdminBackend

    /// Creates the responder.
    public init(security: AdminSecurity, backend: any AdminBackend) {
        self.security = security
        self.backend = backend
    }

    public func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        let head = request.head
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        switch security.verdict(path: path, headers: head.headers) {
        case .allowed:
            break
        case .unauthorized:
            var response = Self.text(.unauthorized, "unauthorized")
            response.headers.add(name: "WWW-Authenticate", value: "Bearer")
            return .immediate(response)
        case .forbidden(let reason):
            return .immediate(Self.text(.forbidden, "forbidden: \(reason)"))
        }
        let backend = self.backend
        switch (head.method, path) {
        case (.GET, "/healthz"), (.HEAD, "/healthz"):
            return .immediate(backend.isDraining ? Self.text(.serviceUnavailable, "draining") : Self.text(.ok, "ok"))
        case (.GET, "/stats"):
            return .deferred(Self.task(on: eventLoop) { Self.json(.ok, await backend.statsJSON()) })
        case (.GET, "/metrics"):
            return .deferred(
                Self.task(on: eventLoop) {
                    Self.text(.ok, await backend.metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8", newline: false)
                })
        case (.GET, "/routes"):
            return .immediate(Self.json(.ok, backend.routesJSON()))
        case (.GET, "/dashboard"):
            var response = Self.text(.ok, Dashboard.html, contentType: "text/html; charset=utf-8", newline: false)
            response.headers.add(
                name: "Content-Security-Policy", value: "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
            return .immediate(response)
        case (.GET, "/prewarm"):
            return .deferred(
                Self.task(on: eventLoop) {
                    switch await backend.prewarmStatus() {
                    case .success(let json): Self.json(.ok, json)
                    case .failure(let error): Self.json(error.status, Self.errorJSON(error.message))
                    }
                })
        case (.POST, "/purge"), (.POST, "/reload"), (.POST, "/prewarm"):
            guard let type = head.headers.first(name: "content-type")?.lowercased(), type.hasPrefix("application/json") else {
                return .immediate(Self.text(.unsupportedMediaType, "POST bodies must be application/json"))
            }
            let isReload = path == "/reload"
            return .deferred(
                Self.readBody(request.upload, on: eventLoop).flatMap { body in
                    Self.task(on: eventLoop) {
                        let object: [String: Any]
                        if body.readableBytes == 0, path != "/purge" {
                            object = [:]
                        } else {
                            guard let parsed = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
                            else {
                                return Self.text(.badRequest, "the body is not a JSON object")
                            }
                            object = parsed
                        }
                        let result =
                            isReload
                            ? await backend.reload(object) : path == "/purge" ? await backend.purge(object) : await backend.prewarm(object)
                        switch result {
                        case .success(let json): return Self.json(.ok, json)
                        case .failure(let error): return Self.json(error.status, Self.errorJSON(error.message))
                        }
                    }
                })
        case (_, "/healthz"), (_, "/stats"), (_, "/metrics"), (_, "/routes"), (_, "/dashboard"), (_, "/purge"), (_, "/reload"),
            (_, "/prewarm"):
            return .immediate(Self.text(.methodNotAllowed, "method not allowed"))
        default:
            return .immediate(Self.text(.notFound, "no such admin endpoint"))
        }
    }

    // MARK: - Helpers

    static func task(on eventLoop: any EventLoop, _ body: @escaping @Sendable () async -> ProxyResponse) -> EventLoopFuture<
        ProxyResponse
    > {
        let promise = eventLoop.makePromise(of: ProxyResponse.self)
        promise.completeWithTask(body)
        return promise.futureResult
    }

    /// Reads a small request body whole (at most `maxBodyBytes`).
    static func readBody(_ upload: UploadStream?, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        guard let upload else { return eventLoop.makeSucceededFuture(ByteBuffer()) }
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let collected = NIOLoopBoundBox(ByteBuffer(), eventLoop: eventLoop)
        let pump = NIOLoopBoundBox<(() -> Void)?>(nil, eventLoop: eventLoop)
        pump.value = {
            var scratch = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let result = scratch.withUnsafeMutableBytes { upload.read(into: $0) }
                switch result {
                case .bytes(let count):
                    guard collected.value.readableBytes + count <= maxBodyBytes else {
                        promise.fail(AdminError(.payloadTooLarge, "body larger than \(maxBodyBytes) bytes"))
                        pump.value = nil
                        return
                    }
                    collected.value.writeBytes(scratch[..<count])
                case .wouldBlock:
                    return
                case .end:
                    promise.succeed(collected.value)
                    pump.value = nil
                    return
                case .failed:
                    promise.fail(AdminError(.badRequest, "the body broke off"))
                    pump.value = nil
                    return
                }
            }
        }
        upload.setOnData { eventLoop.execute { pump.value?() } }
        pump.value?()
        return promise.futureResult
    }

    static func text(_ status: HTTPResponseStatus, _ body: String, contentType: String = "text/plain; charset=utf-8", newline: Bool = true)
        -> ProxyResponse
    {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return ProxyResponse(status: status, headers: headers, body: ByteBuffer(string: newline ? body + "\n" : body))
    }

    static func json(_ status: HTTPResponseStatus, _ body: String) -> ProxyResponse {
        text(status, body, contentType: "application/json")
    }

    static func errorJSON(_ message: String) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
