import NIOCore
public import PacaCore

extension RedisTier {
    /// The sorted set of bans shared by every node on this Redis: `<namespace>:bans`, scored by
    /// the ban's time (DESIGN.md §3: PUBLISH is only a wake-up; the set is what nodes catch up
    /// from).
    public var banSetKey: String { "\(configuration.namespace):bans" }

    /// Adds a ban (`member`, its JSON) at `at`, drops bans older than `retainSince`, and publishes
    /// a wake-up on the set's channel; one pipelined round trip.
    public func publishBan(_ member: String, at: UnixMillis, retainSince: UnixMillis) async throws(RedisError) {
        let key = ByteBuffer(string: banSetKey)
        let replies = try await send(
            key: banSetKey,
            [
                [ByteBuffer(string: "ZADD"), key, ByteBuffer(string: String(at)), ByteBuffer(string: member)],
                [ByteBuffer(string: "ZREMRANGEBYSCORE"), key, ByteBuffer(string: "-inf"), ByteBuffer(string: "(\(retainSince)")],
                [ByteBuffer(string: "PUBLISH"), key, ByteBuffer(string: String(at))],
            ])
        for reply in replies {
            if case .error(let message) = reply { throw .protocolError("ban not shared: \(message)") }
        }
    }

    /// Bans made at or after `since`, oldest first, as (time, JSON).
    public func bans(since: UnixMillis) async throws(RedisError) -> [(at: UnixMillis, member: String)] {
        let key = ByteBuffer(string: banSetKey)
        let reply = try await send(
            key: banSetKey,
            [
                [
                    ByteBuffer(string: "ZRANGEBYSCORE"), key, ByteBuffer(string: String(since)), ByteBuffer(string: "+inf"),
                    ByteBuffer(string: "WITHSCORES"), ByteBuffer(string: "LIMIT"), ByteBuffer(string: "0"), ByteBuffer(string: "10000"),
                ]
            ])[0]
        guard case .array(let items) = reply else {
            throw .protocolError("ZRANGEBYSCORE answered \(reply)")
        }
        var result: [(UnixMillis, String)] = []
        var index = 0
        while index + 1 < items.count {
            if case .bulk(let member) = items[index], case .bulk(let score) = items[index + 1],
                let at = Int64(String(buffer: score).split(separator: ".").first ?? "")
            {
                result.append((at, String(buffer: member)))
            }
            index += 2
        }
        return result
    }
}
