import NIOCore
import PacaCore

/// Sweeping the namespace: `SCAN` on the server (every master of a cluster), each page's values
/// read far enough to know their full keys, and the selected keys deleted one slot at a time.
extension RedisTier {
    /// Walks the namespace with `SCAN` (on every master of a cluster); `select` picks which keys
    /// of each page to delete (one `DEL` per key in a cluster: no command spans slots).
    func sweep(_ select: @escaping @Sendable ([ByteBuffer]) async -> [ByteBuffer]) async -> Int {
        let nodes: [RedisNodeAddress?]
        switch backend {
        case .single: nodes = [nil]
        case .cluster(let cluster): nodes = await cluster.currentMasters().map { $0 }
        }
        var removed = 0
        for node in nodes {
            removed += await sweep(on: node, select)
        }
        return removed
    }

    func sweep(on node: RedisNodeAddress?, _ select: @escaping @Sendable ([ByteBuffer]) async -> [ByteBuffer]) async -> Int {
        let match = ByteBuffer(string: scanPattern)
        var cursor = ByteBuffer(string: "0")
        var removed = 0
        repeat {
            let page = await perform(
                on: node,
                [
                    [
                        ByteBuffer(string: "SCAN"), cursor, ByteBuffer(string: "MATCH"), match, ByteBuffer(string: "COUNT"),
                        ByteBuffer(string: String(Self.scanCount)),
                    ]
                ])
            guard case .success(let replies) = page, case .array(let parts) = replies[0], parts.count == 2, case .bulk(let next) = parts[0],
                case .array(let keyReplies) = parts[1]
            else { return removed }
            cursor = next
            let keys = keyReplies.compactMap { reply -> ByteBuffer? in
                if case .bulk(let key) = reply { return key }
                return nil
            }
            let doomed = keys.isEmpty ? [] : await select(keys)
            if !doomed.isEmpty {
                switch backend {
                case .single:
                    let deleted = await perform(key: "", [[ByteBuffer(string: "DEL")] + doomed])
                    guard case .success(let replies) = deleted, case .integer(let count) = replies[0] else { return removed }
                    removed += Int(count)
                case .cluster:
                    let deleted = await performEach(doomed.map { (String(buffer: $0), [ByteBuffer(string: "DEL"), $0]) })
                    for result in deleted {
                        if case .success(.integer(let count)) = result { removed += Int(count) }
                    }
                }
            }
        } while cursor.readableBytes != 1 || cursor.getInteger(at: cursor.readerIndex, as: UInt8.self) != UInt8(ascii: "0")
        return removed
    }

    /// The full cache key stored in each value (`nil` where the value is gone or unreadable),
    /// reading only the first `sweepHeaderBytes` of each, and the rest of the header where a
    /// header is longer.
    func readHeaders(_ redisKeys: [ByteBuffer]) async -> [String?] {
        let getrange = ByteBuffer(string: "GETRANGE")
        let zero = ByteBuffer(string: "0")
        let last = ByteBuffer(string: String(Self.sweepHeaderBytes - 1))
        var prefixes = await performEach(redisKeys.map { (String(buffer: $0), [getrange, $0, zero, last]) }).map { result in
            (try? result.get()) ?? .null
        }
        var longer: [(index: Int, length: Int)] = []
        for (index, reply) in prefixes.enumerated() {
            guard case .bulk(let bytes) = reply, let needed = try? EntryCodec.summaryLength(prefix: bytes) else { continue }
            if needed > bytes.readableBytes && bytes.readableBytes == Self.sweepHeaderBytes {
                longer.append((index, needed))
            }
        }
        if !longer.isEmpty {
            let commands = longer.map {
                (String(buffer: redisKeys[$0.index]), [getrange, redisKeys[$0.index], zero, ByteBuffer(string: String($0.length - 1))])
            }
            for (position, result) in await performEach(commands).enumerated() {
                prefixes[longer[position].index] = (try? result.get()) ?? .null
            }
        }
        return prefixes.map { reply in
            guard case .bulk(let bytes) = reply else { return nil }
            return try? EntryCodec.summarize(bytes).key
        }
    }
}
