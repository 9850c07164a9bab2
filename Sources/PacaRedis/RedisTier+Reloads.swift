import NIOCore

extension RedisTier {
    /// The reload generation shared by every node on this Redis: `<namespace>:reload`, an integer
    /// that `announceReload` increments. A node that sees it grow re-reads its own configuration
    /// file (as `POST /reload` does there); one key, whatever the number of reloads.
    public var reloadKey: String { "\(configuration.namespace):reload" }

    /// Increments the reload generation and publishes a wake-up on its channel; one pipelined
    /// round trip. Returns the new generation.
    public func announceReload() async throws(RedisError) -> Int64 {
        let key = ByteBuffer(string: reloadKey)
        let replies = try await send(
            key: reloadKey,
            [
                [ByteBuffer(string: "INCR"), key],
                [ByteBuffer(string: "PUBLISH"), key, ByteBuffer(string: "reload")],
            ])
        guard let first = replies.first else { throw .protocolError("INCR answered nothing") }
        switch first {
        case .integer(let generation): return generation
        case .error(let message): throw .protocolError("reload not announced: \(message)")
        default: throw .protocolError("INCR answered \(first)")
        }
    }

    /// The current reload generation (0 when no node ever announced one).
    public func reloadGeneration() async throws(RedisError) -> Int64 {
        let reply = try await send(key: reloadKey, [[ByteBuffer(string: "GET"), ByteBuffer(string: reloadKey)]])[0]
        switch reply {
        case .null: return 0
        case .bulk(let buffer):
            guard let generation = Int64(String(buffer: buffer)) else {
                throw .protocolError("\(reloadKey) holds \"\(String(buffer: buffer))\", not a generation")
            }
            return generation
        case .error(let message): throw .protocolError("reload generation unreadable: \(message)")
        default: throw .protocolError("GET answered \(reply)")
        }
    }
}
