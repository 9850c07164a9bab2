import NIOCore
import NIOEmbedded
import NIOHTTP1
import PacaCore
import Testing

@testable import PacaServer

@Suite("ResponseEncoding writes a head in one pass")
struct ResponseEncodingTests {
    @Test("every part of a hit's head, in order, with a small body inline")
    func fullHead() throws {
        let block = ByteBuffer(string: "Content-Type: application/json\r\nETag: \"v1\"\r\n")
        var headers = HTTPHeaders()
        headers.add(name: "X-Extra", value: "1")
        var response = ProxyResponse(status: .ok, headerBlock: block, headers: headers, body: ByteBuffer(string: "{}"))
        response.age = 1_234_567
        response.cacheStatus = .hit(ttl: -42, tier: "l1")
        let (head, body) = ResponseEncoding.encode(response, keepAlive: false, allocator: .init())
        #expect(body == nil)
        #expect(
            String(buffer: head)
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"v1\"\r\nX-Extra: 1\r\nAge: 1234567\r\n"
                + "Cache-Status: paca; hit; ttl=-42; detail=l1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    }

    @Test("extreme numbers, a long Cache-Status text and an unusual status fit the reserved head")
    func extremes() throws {
        var response = ProxyResponse(status: .custom(code: 299, reasonPhrase: String(repeating: "r", count: 300)))
        response.age = Int64.min
        response.cacheStatus = .text(String(repeating: "x", count: 5000))
        let (head, _) = ResponseEncoding.encode(response, keepAlive: true, allocator: .init())
        let text = String(buffer: head)
        #expect(text.hasPrefix("HTTP/1.1 299 " + String(repeating: "r", count: 300) + "\r\n"))
        #expect(text.contains("Age: -9223372036854775808\r\n"))
        #expect(text.contains("Cache-Status: " + String(repeating: "x", count: 5000) + "\r\n"))
        #expect(text.hasSuffix("Content-Length: 0\r\n\r\n"))
    }

    @Test("a streamed body of unknown length is announced as chunked")
    func chunkedHead() throws {
        var response = ProxyResponse(status: .ok)
        response.stream = BodyStream(eventLoop: EmbeddedEventLoop())
        let (head, body) = ResponseEncoding.encode(response, keepAlive: true, chunked: true, allocator: .init())
        #expect(String(buffer: head) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(body == nil)
    }
}
