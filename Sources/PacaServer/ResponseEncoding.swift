import NIOCore
import NIOHTTP1
import PacaCore

/// Serialises `ProxyResponse`s straight into bytes: the status line and fields go into one small
/// buffer; the body is written as the buffer it already is (no copy) unless it is small enough
/// that one write beats two.
enum ResponseEncoding {
    /// Bodies up to this size are copied next to the head so the response is one write.
    static let inlineBodyLimit = 2048

    static func statusLine(_ status: HTTPResponseStatus) -> String {
        switch status.code {
        case 200: "HTTP/1.1 200 OK\r\n"
        case 304: "HTTP/1.1 304 Not Modified\r\n"
        case 404: "HTTP/1.1 404 Not Found\r\n"
        default: "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        }
    }

    /// Encodes an interim (1xx) response: its status line and fields, no body (RFC 9110 §15.2).
    static func encode(_ interim: InterimResponse, allocator: ByteBufferAllocator) -> ByteBuffer {
        let phrase: String
        switch interim.status {
        case 102: phrase = "Processing"
        case 103: phrase = "Early Hints"
        default: phrase = HTTPResponseStatus(statusCode: interim.status).reasonPhrase
        }
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeString("HTTP/1.1 \(interim.status) \(phrase)\r\n")
        for field in interim.headers { buffer.writeString("\(field.name): \(field.value)\r\n") }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// Whether a response with this status may carry a body at all (RFC 9110 §6.4.1).
    static func permitsBody(_ status: HTTPResponseStatus) -> Bool {
        let code = status.code
        return !(code < 200 || code == 204 || code == 304)
    }

    /// Encodes `response`. Returns the head (with the body when small) and the body to write
    /// after it, if any. A streamed body of unknown length is announced as `chunked` when
    /// `chunked` allows it, else it is delimited by closing the connection.
    /// `announceKeepAlive`: the client spoke HTTP/1.0 and asked to keep the connection, which it
    /// does only when the answer says `Connection: keep-alive` (RFC 9112 §9.3, Appendix C.2.2).
    static func encode(
        _ response: ProxyResponse, keepAlive: Bool, announceKeepAlive: Bool = false, chunked: Bool = false,
        allocator: ByteBufferAllocator
    ) -> (ByteBuffer, ByteBuffer?) {
        var head: ByteBuffer?
        let body = encode(
            response, keepAlive: keepAlive, announceKeepAlive: announceKeepAlive, chunked: chunked, into: &head, allocator: allocator)
        return (head!, body)
    }

    /// Encodes `response` as above into `head`, recycling its storage when nothing else holds it
    /// any more (the previous response written from it has left), else in a new buffer; `nil`
    /// gets a new one. Returns the body to write after the head, if any.
    static func encode(
        _ response: ProxyResponse, keepAlive: Bool, announceKeepAlive: Bool = false, chunked: Bool = false,
        into head: inout ByteBuffer?, allocator: ByteBufferAllocator
    ) -> ByteBuffer? {
        let bodyAllowed = permitsBody(response.status)
        let streamed = response.stream != nil
        let bodyLength = bodyAllowed ? (streamed ? response.streamLength : nil) ?? (response.body?.readableBytes ?? 0) : 0
        let inlineBody = !streamed && !response.omitBody && bodyLength > 0 && bodyLength <= inlineBodyLimit
        let status = statusLine(response.status)
        // An upper bound of the head: each fixed piece below with room for its numbers (at most
        // 151 bytes: Age 27, Cache-Status 60, Content-Length 38, Connection 24, the end 2).
        var capacity = status.utf8.count + (response.headerBlock?.readableBytes ?? 0) + 160
        for header in response.headers { capacity += header.name.utf8.count + header.value.utf8.count + 4 }
        switch response.cacheStatus {
        case .hit(_, let tier): capacity += tier.utf8.count
        case .text(let value): capacity += value.utf8.count
        case nil: break
        }
        if inlineBody { capacity += bodyLength }
        if head == nil {
            head = allocator.buffer(capacity: capacity)
        } else {
            // Grown, when it must be, by the write below (one check of its storage fewer).
            head!.clear()
        }
        head!.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { memory in
            var writer = HeadWriter(memory)
            writer.append(status)
            response.headerBlock?.withUnsafeReadableBytes { writer.append($0) }
            for header in response.headers {
                writer.append(header.name)
                writer.append(": ")
                writer.append(header.value)
                writer.append("\r\n")
            }
            if let age = response.age {
                writer.append("Age: ")
                writer.append(decimal: age)
                writer.append("\r\n")
            }
            switch response.cacheStatus {
            case .hit(let ttl, let tier):
                writer.append("Cache-Status: paca; hit; ttl=")
                writer.append(decimal: ttl)
                writer.append("; detail=")
                writer.append(tier)
                writer.append("\r\n")
            case .text(let value):
                writer.append("Cache-Status: ")
                writer.append(value)
                writer.append("\r\n")
            case nil:
                break
            }
            if bodyAllowed, streamed, response.streamLength == nil {
                if chunked { writer.append("Transfer-Encoding: chunked\r\n") }
            } else if bodyAllowed {
                writer.append("Content-Length: ")
                writer.append(decimal: Int64(bodyLength))
                writer.append("\r\n")
            }
            if !keepAlive {
                writer.append("Connection: close\r\n")
            } else if announceKeepAlive {
                writer.append("Connection: keep-alive\r\n")
            }
            writer.append("\r\n")
            if inlineBody, let body = response.body {
                body.withUnsafeReadableBytes { writer.append($0) }
            }
            return writer.count
        }
        guard !streamed, !response.omitBody, !inlineBody, bodyLength > 0 else { return nil }
        return response.body
    }
}
