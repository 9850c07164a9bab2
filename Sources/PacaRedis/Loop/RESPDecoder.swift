import NIOCore

/// Reads RESP2 replies (what Redis answers a client that never sent `HELLO 3`) straight from a
/// `ByteBuffer`. A bulk string is a slice of the buffer it arrived in: no copy, where hiredis'
/// reader copies it into its own buffer, then into a reply object, then into a `ByteBuffer`.
///
/// Everything a server sends is checked: lengths are bounded (`maxBulkBytes`, `maxElements`),
/// arrays nest at most `maxDepth` deep, and anything else is a protocol error, after which the
/// connection must be dropped.
enum RESPDecoder {
    /// Redis' own limit on a string (`proto-max-bulk-len` default), and on a reply.
    static let maxBulkBytes = 512 << 20
    static let maxElements = 1 << 20
    static let maxDepth = 8
    /// The longest line before its CRLF (a status, an error, a number).
    static let maxLineBytes = 64 << 10

    struct ProtocolError: Error, Equatable {
        let reason: String
    }

    /// The next whole reply at `buffer`'s reader index, which moves past it; nil (and the index
    /// unchanged) when the buffer holds only part of it.
    ///
    /// A reply never makes a connection hold more than `maxReplyBytes`. A bulk string longer
    /// than that (a value another writer stored under a larger limit) is answered as `.null` (a
    /// miss) once its length is read: its bytes are consumed as they arrive, those not arrived
    /// yet counted in `skipping`, which the caller drops from the front of what it reads next.
    /// Anything else that large is a protocol error.
    static func next(_ buffer: inout ByteBuffer, maxReplyBytes: Int = maxBulkBytes, skipping: inout Int) throws(ProtocolError)
        -> RedisReply?
    {
        var probe = buffer
        var oversized: Int?
        guard let reply = try parse(&probe, depth: 0, maxBulkBytes: min(maxReplyBytes, maxBulkBytes), oversized: &oversized) else {
            if buffer.readableBytes > maxReplyBytes {
                throw ProtocolError(reason: "a reply larger than \(maxReplyBytes) bytes")
            }
            return nil
        }
        buffer = probe
        skipping = oversized ?? 0
        return reply
    }

    /// `next(_:maxReplyBytes:skipping:)` where a bulk string over the limit is an error.
    static func next(_ buffer: inout ByteBuffer, maxReplyBytes: Int = maxBulkBytes) throws(ProtocolError) -> RedisReply? {
        var probe = buffer
        var oversized: Int?
        let reply = try parse(&probe, depth: 0, maxBulkBytes: min(maxReplyBytes, maxBulkBytes), oversized: &oversized)
        if oversized != nil { throw ProtocolError(reason: "a bulk string over \(maxReplyBytes) bytes") }
        guard let reply else {
            if buffer.readableBytes > maxReplyBytes { throw ProtocolError(reason: "a reply larger than \(maxReplyBytes) bytes") }
            return nil
        }
        buffer = probe
        return reply
    }

    /// `oversized`: set, to the bytes of it not read yet, for a top-level bulk string over
    /// `maxBulkBytes` (returned as `.null`).
    private static func parse(_ buffer: inout ByteBuffer, depth: Int, maxBulkBytes: Int, oversized: inout Int?) throws(ProtocolError)
        -> RedisReply?
    {
        guard let kind = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let length = try lineLength(buffer) else { return nil }
        let line = (start: buffer.readerIndex, length: length)
        switch kind {
        case UInt8(ascii: "+"):
            let text = buffer.readString(length: length) ?? ""
            buffer.moveReaderIndex(forwardBy: 2)
            return .status(text)
        case UInt8(ascii: "-"):
            let text = buffer.readString(length: length) ?? ""
            buffer.moveReaderIndex(forwardBy: 2)
            return .error(text)
        case UInt8(ascii: ":"):
            let value = try number(buffer, line)
            buffer.moveReaderIndex(forwardBy: length + 2)
            return .integer(value)
        case UInt8(ascii: "$"):
            let length = try number(buffer, line)
            buffer.moveReaderIndex(forwardBy: line.length + 2)
            if length == -1 { return .null }
            guard length >= 0, length <= Self.maxBulkBytes else { throw ProtocolError(reason: "bulk length \(length)") }
            if length > maxBulkBytes {
                // Too large to hold: consumed as it arrives, answered as a miss.
                let total = Int(length) + 2
                let present = min(buffer.readableBytes, total)
                buffer.moveReaderIndex(forwardBy: present)
                oversized = total - present
                return .null
            }
            guard buffer.readableBytes >= Int(length) + 2 else { return nil }
            var bytes = buffer.readSlice(length: Int(length))!
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw ProtocolError(reason: "bulk string without CRLF") }
            // A slice keeps its whole receive buffer alive for as long as the value lives (an
            // entry promoted to L1): one much larger than the value is copied out instead.
            if bytes.storageCapacity > 2 * bytes.readableBytes + 4096 {
                var copy = ByteBufferAllocator().buffer(capacity: bytes.readableBytes)
                copy.writeBuffer(&bytes)
                bytes = copy
            }
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            let count = try number(buffer, line)
            buffer.moveReaderIndex(forwardBy: line.length + 2)
            if count == -1 { return .null }
            guard count >= 0, count <= maxElements else { throw ProtocolError(reason: "array length \(count)") }
            guard depth < maxDepth else { throw ProtocolError(reason: "arrays nested too deep") }
            var elements: [RedisReply] = []
            elements.reserveCapacity(min(Int(count), 1024))
            for _ in 0..<count {
                guard let element = try parse(&buffer, depth: depth + 1, maxBulkBytes: maxBulkBytes, oversized: &oversized) else {
                    return nil
                }
                guard oversized == nil else { throw ProtocolError(reason: "a bulk string over \(maxBulkBytes) bytes in an array") }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw ProtocolError(reason: "unknown reply type \(kind)")
        }
    }

    /// How many bytes come before the next CRLF (which must follow at once after the CR); nil
    /// when no CRLF has arrived yet. Moves nothing.
    private static func lineLength(_ buffer: ByteBuffer) throws(ProtocolError) -> Int? {
        let found = buffer.withUnsafeReadableBytes { bytes -> Int? in
            let limit = min(bytes.count, maxLineBytes + 1)
            var index = 0
            while index < limit {
                if bytes[index] == 0x0D { return index }
                index += 1
            }
            return nil
        }
        guard let end = found else {
            if buffer.readableBytes > maxLineBytes { throw ProtocolError(reason: "a line longer than \(maxLineBytes) bytes") }
            return nil
        }
        guard buffer.readableBytes >= end + 2 else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + end + 1, as: UInt8.self) == 0x0A else {
            throw ProtocolError(reason: "CR without LF")
        }
        return end
    }

    /// The signed decimal integer in `line`.
    private static func number(_ buffer: ByteBuffer, _ line: (start: Int, length: Int)) throws(ProtocolError) -> Int64 {
        var index = line.start
        let end = line.start + line.length
        var negative = false
        if index < end, buffer.getInteger(at: index, as: UInt8.self) == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < end, end - index <= 18 else { throw ProtocolError(reason: "not a number") }
        var value: Int64 = 0
        while index < end {
            guard let digit = buffer.getInteger(at: index, as: UInt8.self), digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else {
                throw ProtocolError(reason: "not a number")
            }
            value = value * 10 + Int64(digit - UInt8(ascii: "0"))
            index += 1
        }
        return negative ? -value : value
    }
}
