import NIOCore
import Testing

@testable import PacaRedis

@Suite("Redis Cluster keying: CRC16 hash slots, redirections, slot maps")
struct RedisHashSlotTests {
    @Test("CRC16 is XMODEM: the standard check value of \"123456789\" is 0x31C3")
    func crcCheckValue() {
        #expect(RedisHashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisHashSlot.crc16([UInt8]()) == 0)
    }

    @Test(
        "slots of known keys, as CLUSTER KEYSLOT gives them",
        arguments: [("foo", 12182), ("bar", 5061), ("hello", 866), ("", 0), ("{user1000}.following", 3443), ("user1000", 3443)])
    func knownSlots(key: String, slot: Int) {
        #expect(RedisHashSlot.slot(for: key) == slot)
    }

    @Test("a non-empty hash tag decides the slot: one entry's keys share it")
    func hashTags() {
        #expect(RedisHashSlot.slot(for: "{user1000}.following") == RedisHashSlot.slot(for: "{user1000}.followers"))
        #expect(RedisHashSlot.slot(for: "foo{bar}{zap}") == RedisHashSlot.slot(for: "bar"))
        #expect(RedisHashSlot.slot(for: "foo{{bar}}zap") == RedisHashSlot.slot(for: "{bar"))
        // An empty tag does not count: the whole key is hashed.
        #expect(RedisHashSlot.hashed(Array("foo{}{bar}".utf8)) == Array("foo{}{bar}".utf8)[...])
        // An unclosed brace is part of the key.
        #expect(RedisHashSlot.hashed(Array("foo{bar".utf8)) == Array("foo{bar".utf8)[...])
    }

    @Test("MOVED and ASK replies are read; other errors are not redirections")
    func redirects() {
        #expect(
            RedisRedirect(errorMessage: "MOVED 3999 127.0.0.1:6381")
                == RedisRedirect(kind: .moved, slot: 3999, node: RedisNodeAddress(host: "127.0.0.1", port: 6381)))
        #expect(
            RedisRedirect(errorMessage: "ASK 12182 [::1]:7000")
                == RedisRedirect(kind: .ask, slot: 12182, node: RedisNodeAddress(host: "::1", port: 7000)))
        #expect(RedisRedirect(errorMessage: "MOVED 3999 :6380")?.node == RedisNodeAddress(host: "", port: 6380))
        #expect(RedisRedirect(errorMessage: "MOVED 16384 127.0.0.1:6381") == nil)
        #expect(RedisRedirect(errorMessage: "ERR unknown command") == nil)
        #expect(RedisRedirect(errorMessage: "CLUSTERDOWN Hash slot not served") == nil)
        #expect(RedisNodeAddress(host: "::1", port: 7000).description == "[::1]:7000")
    }

    @Test("a CLUSTER SLOTS reply becomes a map; a master without a host is where the reply came from")
    func parseClusterSlots() throws {
        let reply = RedisReply.array([
            .array([
                .integer(0), .integer(5460),
                .array([.bulk(ByteBuffer(string: "10.0.0.1")), .integer(7000), .bulk(ByteBuffer(string: "id1"))]),
            ]),
            .array([
                .integer(5461), .integer(16383), .array([.bulk(ByteBuffer(string: "")), .integer(7001), .bulk(ByteBuffer(string: "id2"))]),
                .array([.bulk(ByteBuffer(string: "10.0.0.9")), .integer(7009), .bulk(ByteBuffer(string: "replica"))]),
            ]),
        ])
        let map = try RedisSlotMap.parse(clusterSlots: reply, askedHost: "10.0.0.2")
        #expect(map.master(forSlot: 0) == RedisNodeAddress(host: "10.0.0.1", port: 7000))
        #expect(map.master(forSlot: 5460) == RedisNodeAddress(host: "10.0.0.1", port: 7000))
        #expect(map.master(forSlot: 5461) == RedisNodeAddress(host: "10.0.0.2", port: 7001))
        #expect(map.master(forKey: "foo") == RedisNodeAddress(host: "10.0.0.2", port: 7001))
        #expect(map.masters.count == 2)
        #expect(map.unservedSlots == 0)
        #expect(throws: RedisSlotMap.ParseError.self) { try RedisSlotMap.parse(clusterSlots: .error("ERR"), askedHost: "x") }
    }

    @Test("a CLUSTER SHARDS reply becomes a map; a shard whose master is not online serves nothing")
    func parseClusterShards() throws {
        func node(_ fields: [(String, RedisReply)]) -> RedisReply {
            .array(fields.flatMap { [RedisReply.bulk(ByteBuffer(string: $0.0)), $0.1] })
        }
        func text(_ value: String) -> RedisReply { .bulk(ByteBuffer(string: value)) }
        let reply = RedisReply.array([
            node([
                ("slots", .array([.integer(0), .integer(99), .integer(200), .integer(299)])),
                (
                    "nodes",
                    .array([
                        node([("ip", text("10.0.0.9")), ("port", .integer(7009)), ("role", text("replica")), ("health", text("online"))]),
                        node([("ip", text("10.0.0.1")), ("port", .integer(7000)), ("role", text("master")), ("health", text("online"))]),
                    ])
                ),
            ]),
            node([
                ("slots", .array([.integer(100), .integer(199)])),
                (
                    "nodes",
                    .array([node([("ip", text("10.0.0.2")), ("port", .integer(7001)), ("role", text("master")), ("health", text("fail"))])])
                ),
            ]),
        ])
        let map = try RedisSlotMap.parse(clusterShards: reply, askedHost: "10.0.0.5")
        let first = RedisNodeAddress(host: "10.0.0.1", port: 7000)
        #expect(map.master(forSlot: 0) == first)
        #expect(map.master(forSlot: 250) == first)
        #expect(map.master(forSlot: 150) == nil)
        #expect(map.masters == [first])
        #expect(map.unservedSlots == RedisHashSlot.count - 200)
    }

    @Test("MOVED patches one slot; a master left with no slot leaves the map")
    func assignPatches() {
        let a = RedisNodeAddress(host: "127.0.0.1", port: 1)
        let b = RedisNodeAddress(host: "127.0.0.1", port: 2)
        var map = RedisSlotMap(ranges: [(0...9, a), (10...16383, b)])
        map.assign(5...5, to: b)
        #expect(map.master(forSlot: 5) == b)
        #expect(map.master(forSlot: 4) == a)
        map.assign(0...9, to: b)
        #expect(map.masters == [b])
        #expect(map.master(forSlot: 0) == b)
    }
}
