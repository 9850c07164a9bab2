import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import PacaTestSupport
import Testing

@testable import PacaServer

/// What a decoder hands on, in order, with a mark after each write: the parts (a head with its
/// fields in order and its keep-alive reading), the errors and the end of the connection.
enum DecodedEvent: Equatable, CustomStringConvertible {
    case head(method: String, uri: String, version: String, fields: [String], keepAlive: Bool)
    case body([UInt8])
    case end(trailers: [String]?)
    case error(String)
    case inactive
    case inputClosed
    case written(Int)

    var description: String {
        switch self {
        case .head(let method, let uri, let version, let fields, let keepAlive):
            return "head(\(method) \(uri.debugDescription) \(version) \(fields) keepAlive=\(keepAlive))"
        case .body(let bytes): return "body(\(bytes.count) bytes)"
        case .end(let trailers): return "end(\(trailers.map { "\($0)" } ?? "nil"))"
        case .error(let error): return "error(\(error))"
        case .inactive: return "inactive"
        case .inputClosed: return "inputClosed"
        case .written(let index): return "written(\(index))"
        }
    }
}

/// Records what reaches the connection's handler.
final class DecodedEventRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    var events: [DecodedEvent] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            events.append(
                .head(
                    method: head.method.rawValue, uri: head.uri, version: "\(head.version)",
                    fields: head.headers.map { "\($0.name)=\($0.value)" }, keepAlive: head.isKeepAlive))
        case .body(let buffer):
            events.append(.body(Array(buffer.readableBytesView)))
        case .end(let trailers):
            events.append(.end(trailers: trailers.map { $0.map { "\($0.name)=\($0.value)" } }))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The bytes a decoder in error state was given depend on how they were split into reads;
        // the error is the same.
        if case ByteToMessageDecoderError.dataReceivedInErrorState(let underlying, _) = error {
            events.append(.error("dataReceivedInErrorState(\(underlying))"))
        } else {
            events.append(.error("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.append(.inactive)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .some(.inputClosed) { events.append(.inputClosed) }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Answers every request with what it received, so two pipelines' answers can be compared.
struct EchoResponder: ProxyResponder {
    func respond(to request: ProxyRequest, on eventLoop: any EventLoop) -> ProxyResult {
        let head = request.head
        let fields = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
        let text = "\(head.method.rawValue) \(head.uri) \(head.version) [\(fields)] keepAlive=\(head.isKeepAlive)"
        return .immediate(ProxyResponse(status: .ok, body: ByteBuffer(string: text)))
    }
}

@Suite("The request-head fast path hands on exactly what NIO's decoder would", .timeLimit(.minutes(2)))
struct RequestHeadFastPathTests {
    struct Case: Sendable {
        let raw: [UInt8]
        var maxHeaderBytes = 1024
        /// Where to split `raw` in two besides every position (which long lists skip), or `nil`
        /// for every position.
        var splitsAt: [Int]?
        /// Also fed one byte per read (short requests only).
        var byteByByte = true

        init(_ text: String, maxHeaderBytes: Int = 1024) {
            raw = Array(text.utf8)
            self.maxHeaderBytes = maxHeaderBytes
        }

        init(bytes: [UInt8], splitsAt: [Int], byteByByte: Bool = true) {
            raw = bytes
            self.splitsAt = splitsAt
            self.byteByByte = byteByByte
        }
    }

    static func request(_ target: String = "/x", _ fields: String = "Host: a\r\n", method: String = "GET") -> String {
        "\(method) \(target) HTTP/1.1\r\n\(fields)\r\n"
    }

    /// Requests the fast path takes.
    static let plain: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n",
        "GET /api/search?q=paca&page=2&utm_source=mail HTTP/1.1\r\nHost: bench.test\r\nAccept-Language: en\r\nUser-Agent: wrk\r\n\r\n",
        "HEAD /x?y=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        "GET /w HTTP/1.1\r\nHost:a\r\nX-A:  v  \r\nX-B:\t v\t\r\nX-C:\r\nX-D: \r\nX-E: a  b \t\r\nX-F:\t\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a\r\nconnection:  Keep-Alive \r\n\r\n",
        "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /h HTTP/1.1\r\nX-Host: b\r\nAccept: */*\r\nHOST: a\r\n\r\n",
        "GET /a/../b?x=%41%zz&y=\"q\"{}|^`<>[] HTTP/1.1\r\nHost: a\r\nX-Q: \"quoted\", (comment) {} <> \\ ~\r\n\r\n",
        // A connection per request (wrk -H "Connection: close", ApacheBench's HTTP/1.0): the
        // bytes after such a head are not requests.
        "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a\r\nCONNECTION:  CLOSE \r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
        "HEAD /x HTTP/1.0\r\nhost: a\r\nconnection: Keep-Alive\r\n\r\n",
    ]

    /// Requests the fast path leaves to NIO's decoder: other methods and versions, bodies, odd
    /// bytes and whitespace, the hostile shapes of the protocol tests, and limits.
    static let odd: [String] = [
        // The connection's handler answers these (100 or 417, 400): the fast path takes only a
        // head with one valid Host and no Expect, so the handler checks neither after it.
        "GET /c HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /c HTTP/1.1\r\nAccept: */*\r\n\r\n",
        "GET /c HTTP/1.1\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: a \r\n\r\n",
        "GET /c HTTP/1.1\r\nhOST: [::1]:80\r\nHost: [::1]:80\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd",
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        "GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /x HTTP/1.0\r\n\r\n",
        "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /x HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET /x HTTP/0.9\r\n\r\n",
        "GET /x\r\n\r\n",
        "get /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://:80/x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET  /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x  HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
        "\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\n\n",
        "GET /x HTTP/1.1\r\nHost: a\r\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n",
        "GET /x HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost\t: a\r\n\r\n",
        "GET /x HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHo(st: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: keep-alive\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close, keep-alive\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: x\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: close\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close, close\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a b\r\n\r\n",
        "GET /x HTTP/1.3\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.0 \r\nHost: a\r\n\r\n",
        "GET /caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /a?q=\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: caf\u{E9}\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\n\r\nab",
        "GET /x HTTP/1.1\r\nHost: a\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\n\r",
        "GET /x HTTP/1.1\r\nHost: a",
        "GET /x",
        "G",
    ]

    /// Every case: the plain and odd requests alone, pipelined as "plain, plain, odd, plain",
    /// single bytes in each part of a head, and heads around the limits.
    static var cases: [Case] {
        var cases = (plain + odd).map { Case($0) }
        for odd in odd {
            cases.append(Case(plain[0] + plain[3] + odd + plain[1]))
        }
        for plain in plain {
            cases.append(Case(plain + Self.plain[2] + plain))
            // The same head again and again (taken as remembered, split anywhere), then another.
            cases.append(Case(plain + plain + plain + Self.plain[1]))
        }
        for odd in odd {
            // An odd request right after a remembered head.
            cases.append(Case(plain[0] + plain[0] + odd + plain[0]))
        }
        // Every byte in the target, in a field name and in a field value.
        for byte in UInt8(0)...UInt8(255) {
            // Split around the byte, and one byte per read.
            func request(_ target: [UInt8], _ name: [UInt8], _ value: [UInt8]) -> Case {
                let head = Array("GET /".utf8) + target + Array(" HTTP/1.1\r\nHost: a\r\nX".utf8) + name + Array(": v".utf8) + value
                return Case(bytes: head + Array("v\r\n\r\n".utf8) + Array(Self.plain[0].utf8), splitsAt: [head.count - 1, head.count])
            }
            cases.append(request([byte], [], []))
            cases.append(request([], [byte], []))
            cases.append(request([], [], [byte]))
        }
        // Every byte in each of the eight places of a word the scanner reads whole (a run of
        // plain bytes in a long target and in a long value, which it skips eight at a time).
        // Whole only: a word is read whole only when the read holds it (the splits of the cases
        // above cover the rest), and 4,096 heads fed a byte at a time took the suite's cores
        // for half a minute, starving the timing tests that share them.
        for byte in UInt8(0)...UInt8(255) {
            for lane in 0..<8 {
                var run = Array(repeating: UInt8(ascii: "a"), count: 16)
                run[8 + lane] = byte
                let target = Array("GET /".utf8) + run + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
                cases.append(Case(bytes: target + Array(Self.plain[0].utf8), splitsAt: [], byteByByte: false))
                let value = Array("GET /x HTTP/1.1\r\nHost: a\r\nX-Long: ".utf8) + run + Array("\r\n\r\n".utf8)
                cases.append(Case(bytes: value + Array(Self.plain[0].utf8), splitsAt: [], byteByByte: false))
            }
        }
        // Around the header limit, and around the field count.
        for size in [900, 1000, 1010, 1016, 1020, 1024, 1030, 1100, 2000] {
            let filler = String(repeating: "a", count: max(0, size - 40))
            cases.append(Case("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: \(filler)\r\n\r\n" + plain[0]))
        }
        for count in [255, 256, 257] {
            let fields = String(repeating: "X: a\r\n", count: count)
            cases.append(Case("GET /x HTTP/1.1\r\nHost: a\r\n\(fields)\r\n" + plain[0], maxHeaderBytes: 4096))
        }
        return cases
    }

    static func makeDecoder(fast: Bool, maxHeaderBytes: Int) -> any ChannelHandler {
        fast ? RequestHeadFastPath(maxHeaderBytes: maxHeaderBytes) : RequestHeadFastPath.nioDecoder(maxHeaderBytes: maxHeaderBytes)
    }

    /// The events a decoder hands on for `chunks`, written one after the other, then (when
    /// `halfClose`) the end of the client's input, then the close.
    static func events(_ chunks: [ArraySlice<UInt8>], fast: Bool, maxHeaderBytes: Int, halfClose: Bool = false) throws -> [DecodedEvent] {
        let channel = EmbeddedChannel()
        let recorder = DecodedEventRecorder()
        try channel.pipeline.syncOperations.addHandler(makeDecoder(fast: fast, maxHeaderBytes: maxHeaderBytes))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for (index, chunk) in chunks.enumerated() {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
            recorder.events.append(.written(index))
        }
        if halfClose { channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        _ = try? channel.finish()
        return recorder.events
    }

    /// `raw` whole, split in two at every position (or at `positions`), and (when short) one byte
    /// per read.
    static func splits(_ raw: [UInt8], at positions: [Int]? = nil, byteByByte: Bool = true) -> [[ArraySlice<UInt8>]] {
        var splits: [[ArraySlice<UInt8>]] = [[raw[...]]]
        for position in positions ?? Array(1..<max(1, raw.count)) {
            splits.append([raw[..<position], raw[position...]])
        }
        if byteByByte, raw.count <= 200 {
            splits.append(raw.indices.map { raw[$0...$0] })
        }
        return splits
    }

    /// `events` without the errors after a head that closes the connection: NIO's decoder reports
    /// the bytes that follow such a head as an error, the fast path drops them, and the
    /// connection's handler answers nothing more either way (its answers end with that request's,
    /// and it closes; the `answers` test shows the client sees the same).
    static func droppingAfterClose(_ events: [DecodedEvent]) -> [DecodedEvent] {
        var closing = false
        return events.filter { event in
            switch event {
            case .head(_, _, _, _, let keepAlive):
                closing = !keepAlive
                return true
            case .error:
                return !closing
            default:
                return true
            }
        }
    }

    @Test("the parts, errors and close for every request, split at every byte and pipelined, are NIO's")
    func differential() async throws {
        // Seconds of work: on a thread of its own, not one of the cooperative pool's few.
        let (compared, mismatches) = try await onOwnThread { () throws -> (Int, [String]) in
            var compared = 0
            var mismatches: [String] = []
            for testCase in Self.cases {
                for chunks in Self.splits(testCase.raw, at: testCase.splitsAt, byteByByte: testCase.byteByByte) {
                    let fast = Self.droppingAfterClose(try Self.events(chunks, fast: true, maxHeaderBytes: testCase.maxHeaderBytes))
                    let nio = Self.droppingAfterClose(try Self.events(chunks, fast: false, maxHeaderBytes: testCase.maxHeaderBytes))
                    compared += 1
                    guard fast != nio else { continue }
                    mismatches.append(
                        "\(String(decoding: testCase.raw, as: UTF8.self).debugDescription) in \(chunks.map(\.count)):\nfast \(fast)\nnio  \(nio)"
                    )
                    break
                }
            }
            return (compared, mismatches)
        }
        for mismatch in mismatches { Issue.record(Comment(rawValue: mismatch)) }
        #expect(compared > 5_000)
    }

    @Test("a connection remembers a head of up to 512 bytes, never a larger one, and knows it again only byte for byte")
    func rememberedHead() {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        let largest = [UInt8](repeating: UInt8(ascii: "a"), count: RememberedHead.maximumBytes)
        #expect(largest.withUnsafeBytes { RememberedHead($0, head: head, keepAlive: true) } != nil)
        #expect((largest + [1]).withUnsafeBytes { RememberedHead($0, head: head, keepAlive: true) } == nil)
        let bytes = Array(Self.plain[1].utf8)
        guard let remembered = bytes.withUnsafeBytes({ RememberedHead($0, head: head, keepAlive: true) }) else {
            Issue.record("not remembered")
            return
        }
        #expect((bytes + Array(Self.plain[0].utf8)).withUnsafeBytes { remembered.begins($0) })
        #expect(!bytes.dropLast().withUnsafeBytes { remembered.begins($0) }, "a head not all read yet")
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x20
            if changed.withUnsafeBytes({ remembered.begins($0) }) { Issue.record("byte \(index) changed, still the same head") }
        }
    }

    @Test("head serials are never 0 and differ between connections and between one connection's heads")
    func headSerials() {
        let first = RememberedHead.connectionNumber()
        let second = RememberedHead.connectionNumber()
        #expect(first != 0 && second != 0 && first != second)
        let serials = [first, second].flatMap { connection in (1...1000).map { RememberedHead.serial(connection: connection, head: $0) } }
        #expect(Set(serials).count == serials.count)
        #expect(!serials.contains(0))
        #expect(
            RememberedHead.serial(connection: first, head: 1 << 24 | 5) == RememberedHead.serial(connection: first, head: 5),
            "the count wraps")
    }

    @Test("a half-close after part of a head gives NIO's decoder the part and the end of input, as it had them")
    func halfClose() throws {
        for raw in Self.plain + Self.odd.map({ Self.plain[0] + $0 }) {
            for chunks in Self.splits(Array(raw.utf8)) {
                let fast = Self.droppingAfterClose(try Self.events(chunks, fast: true, maxHeaderBytes: 1024, halfClose: true))
                let nio = Self.droppingAfterClose(try Self.events(chunks, fast: false, maxHeaderBytes: 1024, halfClose: true))
                #expect(fast == nio, "\(raw.debugDescription) in \(chunks.map(\.count)):\nfast \(fast)\nnio  \(nio)")
                if fast != nio { break }
            }
        }
    }

    @Test("the strict check takes the plain requests and leaves the odd ones to NIO's decoder")
    func strictCheck() {
        for text in Self.plain {
            let bytes = Array(text.utf8)
            let outcome = bytes.withUnsafeBytes { RequestHeadScanner.scan($0, limit: 1024, maxFieldCount: 256) }
            guard case .complete(let length, _, let keepAlive) = outcome else {
                Issue.record("not taken: \(text.debugDescription)")
                continue
            }
            #expect(length == bytes.count)
            // The connection's handler takes the scanner's keep-alive reading: it must be NIO's.
            let nio = try? Self.events([bytes[...]], fast: false, maxHeaderBytes: 1024)
            guard case .head(_, _, _, _, let nioKeepAlive) = nio?.first else {
                Issue.record("NIO's decoder made no head of \(text.debugDescription)")
                continue
            }
            #expect(keepAlive == nioKeepAlive, "\(text.debugDescription)")
        }
        for text in Self.odd {
            let outcome = Array(text.utf8).withUnsafeBytes { RequestHeadScanner.scan($0, limit: 1024, maxFieldCount: 256) }
            if case .complete = outcome { Issue.record("taken: \(text.debugDescription)") }
        }
        // An incomplete head that fits so far is kept; one past the limit is not.
        let partial = Array("GET /x HTTP/1.1\r\nHost: a\r\n".utf8)
        #expect(partial.withUnsafeBytes { RequestHeadScanner.scan($0, limit: 1024, maxFieldCount: 256) } == .incomplete)
        #expect(partial.withUnsafeBytes { RequestHeadScanner.scan($0, limit: 20, maxFieldCount: 256) } == .unsuitable)
    }

    @Test("a plain connection stays on the fast path; the first odd request hands it to NIO's decoder for good")
    func fallbackIsForGood() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RequestHeadFastPath(maxHeaderBytes: 1024))
        try channel.pipeline.syncOperations.addHandler(DecodedEventRecorder())
        try channel.writeInbound(ByteBuffer(string: Self.plain[0] + Self.plain[1]))
        #expect((try? channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)) == nil)
        try channel.writeInbound(ByteBuffer(string: Self.odd[0] + Self.plain[0]))
        #expect((try? channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)) != nil)
        _ = try? channel.finish()
    }

    @Test(
        "a head that closes the connection (Connection: close, HTTP/1.0) is read on the fast path, and the bytes after it are dropped",
        arguments: [
            "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "GET /x HTTP/1.0\r\nHost: a\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
        ])
    func closingHeadStaysOnFastPath(head: String) throws {
        let channel = EmbeddedChannel()
        let recorder = DecodedEventRecorder()
        try channel.pipeline.syncOperations.addHandler(RequestHeadFastPath(maxHeaderBytes: 1024))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.writeInbound(ByteBuffer(string: head + Self.plain[0] + "NOT A REQUEST\r\n\r\n"))
        try channel.writeInbound(ByteBuffer(string: Self.plain[1]))
        #expect((try? channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)) == nil)
        let heads = recorder.events.compactMap { event -> Bool? in
            guard case .head(_, _, _, _, let keepAlive) = event else { return nil }
            return keepAlive
        }
        #expect(heads == [false])
        #expect(!recorder.events.contains { if case .error = $0 { true } else { false } })
        _ = try? channel.finish()
    }

    /// What a client sees through the decoder and the connection's handler: the bytes written
    /// back after each read, and whether the connection is still open.
    static func transcript(_ chunks: [ArraySlice<UInt8>], fast: Bool) throws -> [String] {
        let channel = EmbeddedChannel()
        let configuration = HTTPServer.Configuration(maxHeaderBytes: 1024, maxBodyBytes: 100)
        let handler = ConnectionHandler(configuration: configuration, responder: EchoResponder(), logger: .init(label: "test"))
        // The fast path as the listener installs it: it tells the handler of its heads by direct call.
        let decoder: any ChannelHandler =
            fast
            ? RequestHeadFastPath(maxHeaderBytes: configuration.maxHeaderBytes, receiver: handler)
            : RequestHeadFastPath.nioDecoder(maxHeaderBytes: configuration.maxHeaderBytes)
        try channel.pipeline.syncOperations.addHandler(decoder)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var transcript: [String] = []
        for chunk in chunks where channel.isActive {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
            channel.embeddedEventLoop.run()
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            transcript.append(text + (channel.isActive ? "" : " [closed]"))
        }
        _ = try? channel.finish()
        return transcript
    }

    @Test("through the connection's handler, answers, refusals (400, 413, 431) and closes are those of NIO's decoder")
    func answers() throws {
        let pipelined = Self.odd.map { Self.plain[0] + Self.plain[3] + $0 + Self.plain[1] } + Self.plain.map { $0 + Self.plain[0] }
        for raw in Self.plain + Self.odd + pipelined {
            let bytes = Array(raw.utf8)
            for chunks in Self.splits(bytes) {
                let fast = try Self.transcript(chunks, fast: true)
                let nio = try Self.transcript(chunks, fast: false)
                #expect(fast == nio, "\(raw.debugDescription) in \(chunks.map(\.count))")
                if fast != nio { break }
            }
        }
    }
}
