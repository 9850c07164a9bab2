import NIOCore
import NIOEmbedded
import Testing

@testable import PacaRedis

@Suite("The loop connection's handler, driven through an EmbeddedChannel", .timeLimit(.minutes(1)))
struct RedisReplyHandlerTests {
    private func makeChannel(maxReplyBytes: Int = 1 << 20) throws -> (EmbeddedChannel, RedisReplyHandler) {
        let handler = RedisReplyHandler(maxReplyBytes: maxReplyBytes)
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        return (channel, handler)
    }

    private func submit(_ handler: RedisReplyHandler, _ channel: EmbeddedChannel, _ text: String) -> EventLoopFuture<[RedisReply]> {
        let promise = channel.eventLoop.makePromise(of: [RedisReply].self)
        handler.submit(ByteBuffer(string: text), expected: 1, deadline: channel.eventLoop.now + .seconds(1), promise: promise)
        return promise.futureResult
    }

    @Test("a request on an idle connection is flushed at once; requests behind it share one flush at the end of the loop's turn")
    func flushesAreShared() throws {
        let (channel, handler) = try makeChannel()
        let first = submit(handler, channel, "A")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "A"))
        let second = submit(handler, channel, "B")
        let third = submit(handler, channel, "C")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "B"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "C"))

        // Replies split across reads complete the requests in order.
        try channel.writeInbound(ByteBuffer(string: "+one\r\n$3\r\ntw"))
        #expect(try first.wait() == [.status("one")])
        #expect(handler.inflightRequests == 2)
        try channel.writeInbound(ByteBuffer(string: "o\r\n:3\r\n"))
        #expect(try second.wait() == [.bulk(ByteBuffer(string: "two"))])
        #expect(try third.wait() == [.integer(3)])
        #expect(handler.inflightRequests == 0)
        _ = try channel.finish()
    }

    @Test("a request past its deadline fails every request on the connection and closes it")
    func deadlineClosesTheConnection() throws {
        let (channel, handler) = try makeChannel()
        let promise = channel.eventLoop.makePromise(of: [RedisReply].self)
        handler.submit(ByteBuffer(string: "A"), expected: 1, deadline: channel.eventLoop.now + .milliseconds(100), promise: promise)
        let later = submit(handler, channel, "B")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(150))
        #expect(throws: RedisError.timeout) { try promise.futureResult.wait() }
        #expect(throws: RedisError.timeout) { try later.wait() }
        #expect(!handler.isOpen)
        #expect(!channel.isActive)
    }

    @Test("a reply nobody asked for, or bytes that are not RESP, fail the requests and close the connection")
    func protocolFaultsClose() throws {
        let (channel, handler) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "+unasked\r\n"))
        #expect(!handler.isOpen)
        #expect(!channel.isActive)

        let (other, otherHandler) = try makeChannel()
        let pending = submit(otherHandler, other, "A")
        try other.writeInbound(ByteBuffer(string: "?garbage\r\n"))
        #expect(throws: RedisError.self) { try pending.wait() }
        #expect(!other.isActive)
    }

    @Test("a value over the reply limit, arriving in pieces, answers its request as a miss and the replies after it still match")
    func oversizedValueIsAMiss() throws {
        let (channel, handler) = try makeChannel(maxReplyBytes: 1000)
        let big = submit(handler, channel, "GET big")
        let small = submit(handler, channel, "GET small")
        try channel.writeInbound(ByteBuffer(string: "$3000\r\n" + String(repeating: "x", count: 1000)))
        #expect(try big.wait() == [.null])
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 1500)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 500) + "\r\n$2\r\nok\r\n"))
        #expect(try small.wait() == [.bulk(ByteBuffer(string: "ok"))])
        #expect(handler.isOpen)
        _ = try channel.finish()
    }

    @Test("replies that keep arriving split across reads leave only the unread bytes buffered, not every byte read")
    func splitRepliesDoNotAccumulate() throws {
        let (channel, handler) = try makeChannel()
        let value = String(repeating: "v", count: 200)
        let reply = Array("$200\r\n\(value)\r\n".utf8)
        var futures: [EventLoopFuture<[RedisReply]>] = []
        for _ in 0..<1000 { futures.append(submit(handler, channel, "GET")) }
        channel.embeddedEventLoop.run()
        // Every read ends in the middle of a reply: 1000 replies, each cut at byte 100 and
        // sent with the previous reply's tail.
        var carry: [UInt8] = []
        for _ in 0..<1000 {
            try channel.writeInbound(ByteBuffer(bytes: carry + reply[..<100]))
            carry = Array(reply[100...])
            #expect(handler.pendingStorageBytes < 4096)
        }
        try channel.writeInbound(ByteBuffer(bytes: carry))
        for future in futures { #expect(try future.wait() == [.bulk(ByteBuffer(string: value))]) }
        #expect(handler.pendingStorageBytes == 0)
        _ = try channel.finish()
    }
}
