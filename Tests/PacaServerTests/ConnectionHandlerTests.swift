import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import Synchronization
import Testing

@testable import PacaServer

/// A responder whose answers the test completes by hand.
final class ScriptedResponder: ProxyResponder {
    let promises = Mutex<[String: EventLoopPromise<ProxyResponse>]>([:])
    let deferredPaths: Set<String>

    init(deferredPaths: Set<String>) {
        self.deferredPaths = deferredPaths
    }

    func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        if let upload = request.upload {
            // The body streams in after the head: answer once it is all here.
            return .deferred(
                drain(upload, on: eventLoop).map { text in
                    ProxyResponse(status: .ok, body: ByteBuffer(string: "\(request.head.method.rawValue) \(request.head.uri) \(text)"))
                })
        }
        let body = ByteBuffer(string: "\(request.head.method.rawValue) \(request.head.uri) ")
        guard deferredPaths.contains(request.head.uri) else {
            return .immediate(ProxyResponse(status: .ok, body: body))
        }
        let promise = eventLoop.makePromise(of: ProxyResponse.self)
        promises.withLock { $0[request.head.uri] = promise }
        return .deferred(promise.futureResult.map { _ in ProxyResponse(status: .ok, body: body) })
    }

    func complete(_ path: String) {
        let promise = promises.withLock { $0.removeValue(forKey: path) }
        promise?.succeed(ProxyResponse(status: .ok))
    }
}

@Suite("ConnectionHandler on an EmbeddedChannel")
struct ConnectionHandlerTests {
    static func channel(_ responder: any ProxyResponder, configuration: HTTPServer.Configuration = .init()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = configuration.maxHeaderBytes
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)))
        try channel.pipeline.syncOperations.addHandler(
            ConnectionHandler(configuration: configuration, responder: responder, logger: .init(label: "test")))
        return channel
    }

    static func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test("a pipelined request behind a slow one waits; answers leave in request order")
    func ordering() throws {
        let responder = ScriptedResponder(deferredPaths: ["/slow"])
        let channel = try Self.channel(responder)
        try channel.writeInbound(ByteBuffer(string: "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(try Self.output(channel).isEmpty)
        responder.complete("/slow")
        channel.embeddedEventLoop.run()
        let text = try Self.output(channel)
        let slow = try #require(text.range(of: "GET /slow"))
        let fast = try #require(text.range(of: "GET /fast"))
        #expect(slow.lowerBound < fast.lowerBound)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        _ = try? channel.finish()
    }

    @Test("while the socket is not writable no answer is written and no request is read; writability resumes both")
    func backpressure() throws {
        let responder = ScriptedResponder(deferredPaths: [])
        let channel = try Self.channel(responder)
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"))
        let readsBefore = reads.count
        channel.read()
        #expect(reads.count == readsBefore)
        #expect(try Self.output(channel).isEmpty)

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        let text = try Self.output(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        // The withheld read is issued again once the answers have gone out.
        #expect(reads.count == readsBefore + 1)
        _ = try? channel.finish()
    }

    @Test("request bodies are assembled and handed over whole")
    func bodies() throws {
        let channel = try Self.channel(ScriptedResponder(deferredPaths: []))
        try channel.writeInbound(
            ByteBuffer(string: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel).hasSuffix("POST /p abcde"))
        _ = try? channel.finish()
    }

    @Test("Expect: 100-continue gets an interim 100 before the body")
    func expectContinue() throws {
        let channel = try Self.channel(ScriptedResponder(deferredPaths: []))
        try channel.writeInbound(ByteBuffer(string: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"))
        #expect(try Self.output(channel) == "HTTP/1.1 100 Continue\r\n\r\n")
        try channel.writeInbound(ByteBuffer(string: "ok"))
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel).contains("POST /p ok"))
        _ = try? channel.finish()
    }

    @Test("answers to requests read together keep their own heads though the head buffer is recycled")
    func recycledHeadBuffer() throws {
        let channel = try Self.channel(ScriptedResponder(deferredPaths: []))
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /bb HTTP/1.1\r\nHost: a\r\n\r\n"))
        let first = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let second = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: first) == "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nGET /a ")
        #expect(String(buffer: second) == "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nGET /bb ")
        // Once the socket has let go of it, the next answer reuses the buffer.
        try channel.writeInbound(ByteBuffer(string: "GET /c HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(try Self.output(channel) == "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nGET /c ")
        _ = try? channel.finish()
    }

    @Test("a HEAD answer carries Content-Length but no body")
    func headWithoutBody() throws {
        let (head, body) = ResponseEncoding.encode(
            ProxyResponse(status: .ok, body: ByteBuffer(string: "12345"), omitBody: true), keepAlive: true, allocator: .init())
        #expect(String(buffer: head) == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        #expect(body == nil)
    }

    @Test("304 and 204 answers never carry a body or Content-Length")
    func bodilessStatuses() throws {
        for status in [HTTPResponseStatus.notModified, .noContent] {
            let (head, body) = ResponseEncoding.encode(
                ProxyResponse(status: status, body: ByteBuffer(string: "x")), keepAlive: false, allocator: .init())
            #expect(!String(buffer: head).contains("Content-Length"))
            #expect(String(buffer: head).hasSuffix("Connection: close\r\n\r\n"))
            #expect(body == nil)
        }
    }

    @Test("large bodies are written as their own buffer, not copied into the head")
    func largeBodyZeroCopy() throws {
        let large = ByteBuffer(repeating: 0x41, count: 64 * 1024)
        let (head, body) = ResponseEncoding.encode(ProxyResponse(status: .ok, body: large), keepAlive: true, allocator: .init())
        #expect(head.readableBytes < 100)
        #expect(body == large)
    }
}

/// Counts the `read()` calls that reach the channel.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// Reads an upload to its end on `eventLoop`, waiting for parts as they arrive.
func drain(_ upload: UploadStream, on eventLoop: any EventLoop) -> EventLoopFuture<String> {
    let promise = eventLoop.makePromise(of: String.self)
    let text = NIOLoopBoundBox("", eventLoop: eventLoop)
    @Sendable func pump() {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = scratch.withUnsafeMutableBytes { upload.read(into: $0) }
            switch result {
            case .bytes(let count): text.value += String(decoding: scratch[..<count], as: UTF8.self)
            case .wouldBlock: return
            case .end: return promise.succeed(text.value)
            case .failed: return promise.fail(OriginError.protocolError("upload failed"))
            }
        }
    }
    upload.setOnData { eventLoop.execute { pump() } }
    eventLoop.execute { pump() }
    return promise.futureResult
}
