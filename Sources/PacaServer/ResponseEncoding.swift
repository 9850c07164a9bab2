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
    static func encode(_ response: ProxyResponse, keepAlive: Bool, chunked: Bool = false, allocator: ByteBufferAllocator) -> (
        ByteBuffer, ByteBuffer?
    ) {
        let bodyAllowed = permitsBody(response.status)
        let streamed = response.stream != nil
        let bodyLength = bodyAllowed ? (streamed ? response.streamLength : nil) ?? (response.body?.readableBytes ?? 0) : 0
        let inlineBody = !streamed && !response.omitBody && bodyLength > 0 && bodyLength <= inlineBodyLimit
        var capacity = 128 + (response.headerBlock?.readableBytes ?? 0)
        for header in response.headers { capacity += header.name.utf8.count + header.value.utf8.count + 4 }
        if inlineBody { capacity += bodyLength }
        var head = allocator.buffer(capacity: capacity)
        head.writeString(statusLine(response.status))
        if var block = response.headerBlock {
            head.writeBuffer(&block)
        }
        for header in response.headers {
            head.writeString(header.name)
            head.writeStaticString(": ")
            head.writeString(header.value)
            head.writeStaticString("\r\n")
        }
        if let age = response.age {
            head.writeStaticString("Age: ")
            head.writeDecimal(age)
            head.writeStaticString("\r\n")
        }
        switch response.cacheStatus {
        case .hit(let ttl, let tier):
            head.writeStaticString("Cache-Status: paca; hit; ttl=")
            head.writeDecimal(ttl)
            head.writeStaticString("; detail=")
            head.writeString(tier)
            head.writeStaticString("\r\n")
        case .text(let value):
            head.writeStaticString("Cache-Status: ")
            head.writeString(value)
            head.writeStaticString("\r\n")
        case nil:
            break
        }
        if bodyAllowed, streamed, response.streamLength == nil {
            if chunked { head.writeStaticString("Transfer-Encoding: chunked\r\n") }
        } else if bodyAllowed {
            head.writeStaticString("Content-Length: ")
            head.writeDecimal(Int64(bodyLength))
            head.writeStaticString("\r\n")
        }
        if !keepAlive {
            head.writeStaticString("Connection: close\r\n")
        }
        head.writeStaticString("\r\n")
        guard !streamed, !response.omitBody, bodyLength > 0, let body = response.body else { return (head, nil) }
        if inlineBody {
            head.writeImmutableBuffer(body)
            return (head, nil)
        }
        return (head, body)
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal without building a `String`.
    mutating func writeDecimal(_ value: Int64) {
        var magnitude = value.magnitude
        if value < 0 { writeInteger(UInt8(ascii: "-")) }
        if magnitude < 10 {
            writeInteger(UInt8(truncatingIfNeeded: magnitude) + UInt8(ascii: "0"))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            while magnitude > 0 {
                digits[19 - count] = UInt8(truncatingIfNeeded: magnitude % 10) + UInt8(ascii: "0")
                magnitude /= 10
                count += 1
            }
            writeBytes(UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }
}
