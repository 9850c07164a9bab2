import PacaStorage
import Testing

/// The obvious O(n) model: keys from the most to the least recently used.
private struct ReferenceLRU {
    let capacity: Int
    var order: [Int] = []
    var values: [Int: Int] = [:]

    mutating func get(_ key: Int) -> Int? {
        guard let value = values[key] else { return nil }
        order.removeAll { $0 == key }
        order.insert(key, at: 0)
        return value
    }

    mutating func set(_ value: Int, for key: Int) -> Int? {
        var evicted: Int?
        if values[key] == nil, values.count >= capacity, let victim = order.popLast() {
            values[victim] = nil
            evicted = victim
        }
        order.removeAll { $0 == key }
        order.insert(key, at: 0)
        values[key] = value
        return evicted
    }

    mutating func remove(_ key: Int) -> Int? {
        order.removeAll { $0 == key }
        return values.removeValue(forKey: key)
    }
}

/// A deterministic generator, so a failure can be replayed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("BoundedLRUMap")
struct BoundedLRUMapTests {
    @Test("a full map forgets its least recently stored entry, one at a time")
    func evictsLeastRecentlyStored() {
        var map = BoundedLRUMap<String, Int>(capacity: 3)
        #expect(map.set(1, for: "a") == nil)
        #expect(map.set(2, for: "b") == nil)
        #expect(map.set(3, for: "c") == nil)
        #expect(map.keysByRecency == ["c", "b", "a"])
        let first = map.set(4, for: "d")
        #expect(first?.key == "a")
        #expect(first?.value == 1)
        #expect(map.set(5, for: "e")?.key == "b")
        #expect(map.count == 3)
        #expect(map.keysByRecency == ["e", "d", "c"])
        #expect(map.peek("a") == nil)
        #expect(map.peek("c") == 3, "only the oldest entries went; the rest stayed")
    }

    @Test("get makes an entry recently used; peek and contains do not")
    func getRefreshesRecency() {
        var map = BoundedLRUMap<String, Int>(capacity: 3)
        map.set(1, for: "a")
        map.set(2, for: "b")
        map.set(3, for: "c")
        #expect(map.get("a") == 1)
        #expect(map.keysByRecency == ["a", "c", "b"])
        #expect(map.peek("b") == 2)
        #expect(map.contains("b"))
        #expect(map.set(4, for: "d")?.key == "b", "peek did not save b")
        #expect(map.keysByRecency == ["d", "a", "c"])
        #expect(map.get("missing") == nil)
    }

    @Test("storing an existing key replaces its value, refreshes it and evicts nothing")
    func overwriteRefreshes() {
        var map = BoundedLRUMap<String, Int>(capacity: 2)
        map.set(1, for: "a")
        map.set(2, for: "b")
        #expect(map.set(10, for: "a") == nil)
        #expect(map.count == 2)
        #expect(map.keysByRecency == ["a", "b"])
        #expect(map.set(3, for: "c")?.key == "b")
        #expect(map.peek("a") == 10)
    }

    @Test("removeValue forgets one key and frees its place")
    func removeFreesPlace() {
        var map = BoundedLRUMap<String, Int>(capacity: 3)
        map.set(1, for: "a")
        map.set(2, for: "b")
        map.set(3, for: "c")
        #expect(map.removeValue(for: "b") == 2)
        #expect(map.removeValue(for: "b") == nil)
        #expect(map.count == 2)
        #expect(map.keysByRecency == ["c", "a"])
        #expect(map.set(4, for: "d") == nil, "the freed place is used before anything is evicted")
        #expect(map.keysByRecency == ["d", "c", "a"])
        #expect(map.removeValue(for: "a") == 1)
        #expect(map.removeValue(for: "d") == 4)
        #expect(map.removeValue(for: "c") == 3)
        #expect(map.isEmpty)
        #expect(map.keysByRecency.isEmpty)
        map.set(5, for: "e")
        #expect(map.keysByRecency == ["e"])
    }

    @Test("a capacity of one keeps the latest key")
    func capacityOne() {
        var map = BoundedLRUMap<Int, Int>(capacity: 1)
        map.set(1, for: 1)
        #expect(map.set(2, for: 2)?.key == 1)
        #expect(map.get(2) == 2)
        #expect(map.count == 1)
        #expect(map.removeValue(for: 2) == 2)
        #expect(map.isEmpty)
    }

    @Test("far more keys than capacity: the map stays full with the newest keys")
    func neverWipes() {
        var map = BoundedLRUMap<Int, Int>(capacity: 1000)
        for key in 0..<25_000 {
            map.set(key, for: key)
            #expect(map.count == min(key + 1, 1000))
        }
        #expect(map.keysByRecency == Array((24_000..<25_000).reversed()))
    }

    @Test("random operations agree with a reference model", arguments: [1, 2, 7, 64])
    func matchesReferenceModel(capacity: Int) {
        var random = SplitMix64(state: UInt64(capacity))
        var map = BoundedLRUMap<Int, Int>(capacity: capacity)
        var model = ReferenceLRU(capacity: capacity)
        for step in 0..<20_000 {
            let key = Int.random(in: 0..<(capacity * 3), using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                #expect(map.get(key) == model.get(key), "step \(step)")
            case 4..<8:
                #expect(map.set(step, for: key)?.key == model.set(step, for: key), "step \(step)")
            case 8:
                #expect(map.removeValue(for: key) == model.remove(key), "step \(step)")
            default:
                #expect(map.peek(key) == model.values[key], "step \(step)")
            }
            #expect(map.count <= capacity)
        }
        #expect(map.keysByRecency == model.order)
    }
}
