import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaHTTPCaching
import Synchronization
import Testing

@testable import PacaServer

/// A responder that keeps each request's interim writer and answers when the test says.
final class InterimResponder: ProxyResponder {
    let writers = Mutex<[String: (@Sendable (InterimResponse) -> Void)?]>([:])
    let promises = Mutex<[String: EventLoopPromise<ProxyResponse>]>([:])

    func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        writers.withLock { $0[request.head.uri] = request.interim }
        let promise = eventLoop.makePromise(of: ProxyResponse.self)
        promises.withLock { $0[request.head.uri] = promise }
        return .deferred(promise.futureResult)
    }

    func interim(_ path: String, _ response: InterimResponse) {
        let writer = writers.withLock { $0[path] ?? nil }
        writer?(response)
    }

    func hasWriter(_ path: String) -> Bool {
        writers.withLock { $0[path] ?? nil } != nil
    }

    func complete(_ path: String) {
        let promise = promises.withLock { $0.removeValue(forKey: path) }
        promise?.succeed(ProxyResponse(status: .ok, body: ByteBuffer(string: "final")))
    }
}

/// RFC 9110 §15.2: interim responses are relayed ahead of the final one, to HTTP/1.1 clients only.
@Suite("Interim (1xx) responses (RFC 9110 §15.2)")
struct InterimResponseTests {
    static let hints = InterimResponse(status: 103, headers: [HTTPField(name: "Link", value: "</a.css>; rel=preload")])

    /// (status, fields in, what is relayed) — RFC 9110 §15.2, §7.6.1.
    static let relayRows: [(String, Int, [HTTPField], InterimResponse?)] = [
        ("§15.2.1 100 Continue: paca answers Expect itself, never a second 100", 100, [], nil),
        ("§15.2.2 101 Switching Protocols: no upgrades are relayed", 101, [HTTPField(name: "Upgrade", value: "h2c")], nil),
        ("§15.2 102 Processing is relayed", 102, [], InterimResponse(status: 102, headers: [])),
        (
            "§15.2 103 Early Hints is relayed with its Link; §7.6.1 hop-by-hop fields are not", 103,
            [
                HTTPField(name: "Link", value: "</a.css>; rel=preload"), HTTPField(name: "Connection", value: "x-hop"),
                HTTPField(name: "X-Hop", value: "1"), HTTPField(name: "Keep-Alive", value: "timeout=5"),
            ],
            InterimResponse(status: 103, headers: [HTTPField(name: "Link", value: "</a.css>; rel=preload")])
        ),
        ("§15.2 an unknown 1xx is relayed too", 199, [], InterimResponse(status: 199, headers: [])),
        ("a final status is not interim", 200, [], nil),
    ]

    @Test("which origin 1xx blocks are relayed, and with which fields", arguments: relayRows)
    func relayable(row: (String, Int, [HTTPField], InterimResponse?)) {
        #expect(InterimResponse.relayable(status: row.1, headers: row.2) == row.3, "\(row.0)")
    }

    @Test("an interim response is encoded as a status line and its fields, no body")
    func encoding() {
        let bytes = ResponseEncoding.encode(Self.hints, allocator: .init())
        #expect(String(buffer: bytes) == "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
        #expect(
            String(buffer: ResponseEncoding.encode(InterimResponse(status: 102, headers: []), allocator: .init()))
                == "HTTP/1.1 102 Processing\r\n\r\n")
    }

    @Test("an HTTP/1.1 client gets the 103 before the final answer; none follows the final head")
    func relayedBeforeFinal() throws {
        let responder = InterimResponder()
        let channel = try ConnectionHandlerTests.channel(responder)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"))
        responder.interim("/a", Self.hints)
        channel.embeddedEventLoop.run()
        #expect(try ConnectionHandlerTests.output(channel) == "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
        responder.complete("/a")
        channel.embeddedEventLoop.run()
        let final = try ConnectionHandlerTests.output(channel)
        #expect(final.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!final.contains("Link"))
        // Too late: the final head is out.
        responder.interim("/a", Self.hints)
        channel.embeddedEventLoop.run()
        #expect(try ConnectionHandlerTests.output(channel).isEmpty)
        _ = try? channel.finish()
    }

    @Test("a pipelined request's interim response waits for nothing and goes nowhere before its turn")
    func onlyTheRequestBeingAnswered() throws {
        let responder = InterimResponder()
        let channel = try ConnectionHandlerTests.channel(responder)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(!responder.hasWriter("/b"))  // not dispatched yet
        responder.complete("/a")
        channel.embeddedEventLoop.run()
        _ = try ConnectionHandlerTests.output(channel)
        // /b is being answered now; /a's writer is stale and writes nothing.
        responder.interim("/a", Self.hints)
        channel.embeddedEventLoop.run()
        #expect(try ConnectionHandlerTests.output(channel).isEmpty)
        responder.interim("/b", Self.hints)
        channel.embeddedEventLoop.run()
        #expect(try ConnectionHandlerTests.output(channel).hasPrefix("HTTP/1.1 103 Early Hints\r\n"))
        responder.complete("/b")
        channel.embeddedEventLoop.run()
        _ = try? channel.finish()
    }

    @Test("an HTTP/1.0 client is never sent a 1xx: its request carries no interim writer")
    func noInterimForHTTP10() throws {
        let responder = InterimResponder()
        let channel = try ConnectionHandlerTests.channel(responder)
        try channel.writeInbound(ByteBuffer(string: "GET /old HTTP/1.0\r\nHost: a\r\n\r\n"))
        #expect(!responder.hasWriter("/old"))
        responder.complete("/old")
        channel.embeddedEventLoop.run()
        let text = try ConnectionHandlerTests.output(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!text.contains(" 103 "))
        _ = try? channel.finish()
    }
}
