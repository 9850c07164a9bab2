import NIOCore
import Testing

@testable import PacaRedis

@Suite("RESP2 replies read from a ByteBuffer", .timeLimit(.minutes(1)))
struct RESPDecoderTests {
    /// Every reply type, back to back, as Redis sends them.
    static let wire =
        "+OK\r\n-ERR unknown command\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
        + "*3\r\n$3\r\nfoo\r\n:1\r\n*2\r\n+a\r\n$-1\r\n$4\r\nbin\r\r\n"
    static let replies: [RedisReply] = [
        .status("OK"), .error("ERR unknown command"), .integer(42), .integer(-7), .bulk(ByteBuffer(string: "hello")),
        .bulk(ByteBuffer()), .null, .null, .array([]),
        .array([.bulk(ByteBuffer(string: "foo")), .integer(1), .array([.status("a"), .null])]), .bulk(ByteBuffer(string: "bin\r")),
    ]

    private func decodeAll(_ buffer: inout ByteBuffer) throws -> [RedisReply] {
        var replies: [RedisReply] = []
        while let reply = try RESPDecoder.next(&buffer) { replies.append(reply) }
        return replies
    }

    @Test("every reply type decodes, in order, with binary-safe bulk strings")
    func decodesEveryType() throws {
        var buffer = ByteBuffer(string: Self.wire)
        #expect(try decodeAll(&buffer) == Self.replies)
        #expect(buffer.readableBytes == 0)
    }

    @Test("split at every byte, a partial reply waits (nothing consumed) and the whole stream decodes the same")
    func everySplitPoint() throws {
        let bytes = Array(Self.wire.utf8)
        for split in 0...bytes.count {
            var first = ByteBuffer(bytes: bytes[..<split])
            var replies = try decodeAll(&first)
            first.writeBytes(bytes[split...])
            replies += try decodeAll(&first)
            #expect(replies == Self.replies, "split at \(split)")
            #expect(first.readableBytes == 0)
        }
    }

    @Test(
        "malformed replies are protocol errors",
        arguments: [
            "?what\r\n", ":12a\r\n", ":\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*-5\r\n", "+OK\rX", ":1234567890123456789\r\n",
            String(repeating: "*1\r\n", count: 9) + ":1\r\n",
        ])
    func malformed(_ wire: String) {
        var buffer = ByteBuffer(string: wire)
        #expect(throws: RESPDecoder.ProtocolError.self) { _ = try decodeAll(&buffer) }
    }

    @Test("a reply over the limit is refused as soon as its length or its buffered bytes show it")
    func boundedReplies() throws {
        var declared = ByteBuffer(string: "$2000\r\n")
        #expect(throws: RESPDecoder.ProtocolError.self) { _ = try RESPDecoder.next(&declared, maxReplyBytes: 1000) }
        // A status line with no end in sight: refused once more than the limit is buffered.
        var endless = ByteBuffer(string: "+" + String(repeating: "x", count: 1500))
        #expect(throws: RESPDecoder.ProtocolError.self) { _ = try RESPDecoder.next(&endless, maxReplyBytes: 1000) }
        var fine = ByteBuffer(string: "$900\r\n" + String(repeating: "y", count: 900) + "\r\n")
        #expect(try RESPDecoder.next(&fine, maxReplyBytes: 1000) == .bulk(ByteBuffer(string: String(repeating: "y", count: 900))))
    }

    @Test("a small bulk string read from a large buffer is copied out, so it does not keep that buffer alive")
    func smallValueDoesNotPinItsBuffer() throws {
        var large = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        large.writeString("$5\r\nhello\r\n")
        guard case .bulk(let small) = try RESPDecoder.next(&large) else {
            Issue.record("expected a bulk string")
            return
        }
        #expect(small == ByteBuffer(string: "hello"))
        #expect(small.storageCapacity < 4096)
        // A value that fills most of its buffer stays a slice of it (no copy).
        let body = String(repeating: "z", count: 60 * 1024)
        var full = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        full.writeString("$\(body.utf8.count)\r\n\(body)\r\n")
        guard case .bulk(let big) = try RESPDecoder.next(&full) else {
            Issue.record("expected a bulk string")
            return
        }
        #expect(big.readableBytes == body.utf8.count)
        #expect(big.storageCapacity == full.storageCapacity)
    }

    @Test("a top-level bulk string over the limit is a miss, its bytes dropped as they arrive; inside an array it is an error")
    func oversizedBulkIsSkipped() throws {
        var skipping = 0
        var head = ByteBuffer(string: "$2000\r\n" + String(repeating: "x", count: 500))
        #expect(try RESPDecoder.next(&head, maxReplyBytes: 1000, skipping: &skipping) == .null)
        #expect(head.readableBytes == 0)
        #expect(skipping == 2000 + 2 - 500)
        // Whole in one read: nothing left to skip, the next reply follows.
        var whole = ByteBuffer(string: "$1500\r\n" + String(repeating: "x", count: 1500) + "\r\n+OK\r\n")
        #expect(try RESPDecoder.next(&whole, maxReplyBytes: 1000, skipping: &skipping) == .null)
        #expect(skipping == 0)
        #expect(try RESPDecoder.next(&whole, maxReplyBytes: 1000, skipping: &skipping) == .status("OK"))
        var nested = ByteBuffer(string: "*1\r\n$1500\r\n")
        #expect(throws: RESPDecoder.ProtocolError.self) { _ = try RESPDecoder.next(&nested, maxReplyBytes: 1000, skipping: &skipping) }
        // Beyond what Redis can send at all: an error.
        var absurd = ByteBuffer(string: "$999999999999\r\n")
        #expect(throws: RESPDecoder.ProtocolError.self) { _ = try RESPDecoder.next(&absurd, maxReplyBytes: 1000, skipping: &skipping) }
    }
}
