/// A map that holds at most `capacity` entries: storing a new key into a full map first forgets
/// the least recently used entry, one at a time, so a burst of new keys never wipes the map
/// (DESIGN.md §3: every table that grows with traffic is bounded and evicts its least recently
/// used entries).
///
/// `get`, `set` and `removeValue` are O(1): a dictionary finds a key's slot in an array of nodes
/// that form a doubly linked list from the most to the least recently used entry. Removal moves
/// the last node into the freed slot, so the array never has holes and never holds a forgotten
/// value. A value type: keep it in a `Mutex` and mutate it in place (`withLock { $0.set(…) }`).
public struct BoundedLRUMap<Key: Hashable, Value> {
    fileprivate struct Node {
        var key: Key
        var value: Value
        /// The next more recently used node, or `none`.
        var newer: Int
        /// The next less recently used node, or `none`.
        var older: Int
    }

    private static var none: Int { -1 }

    /// Where each key's node is in `nodes`.
    private var slots: [Key: Int] = [:]
    private var nodes: [Node] = []
    /// The most recently used node, or `none`.
    private var newest = Self.none
    /// The least recently used node, or `none`: the next to be evicted.
    private var oldest = Self.none

    /// Most entries held; at least 1.
    public let capacity: Int

    /// Creates an empty map that holds at most `capacity` entries (at least 1).
    public init(capacity: Int) {
        precondition(capacity >= 1, "a BoundedLRUMap holds at least one entry")
        self.capacity = capacity
    }

    /// Entries held.
    public var count: Int { nodes.count }

    /// Whether the map holds nothing.
    public var isEmpty: Bool { nodes.isEmpty }

    /// Whether `key` has a value, without making it recently used.
    public func contains(_ key: Key) -> Bool {
        slots[key] != nil
    }

    /// The value for `key`, without making it recently used.
    public func peek(_ key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        return nodes[slot].value
    }

    /// The value for `key`, which becomes the most recently used entry.
    public mutating func get(_ key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        moveToNewest(slot)
        return nodes[slot].value
    }

    /// Stores `value` for `key` as the most recently used entry. When that adds a key to a full
    /// map, the least recently used entry is forgotten and returned.
    @discardableResult
    public mutating func set(_ value: Value, for key: Key) -> (key: Key, value: Value)? {
        if let slot = slots[key] {
            nodes[slot].value = value
            moveToNewest(slot)
            return nil
        }
        var evicted: (key: Key, value: Value)?
        if nodes.count >= capacity {
            let victim = nodes[oldest]
            evicted = (victim.key, victim.value)
            removeNode(at: oldest)
        }
        let slot = nodes.count
        nodes.append(Node(key: key, value: value, newer: Self.none, older: newest))
        slots[key] = slot
        if newest != Self.none { nodes[newest].newer = slot }
        newest = slot
        if oldest == Self.none { oldest = slot }
        return evicted
    }

    /// Forgets `key`; returns its value, if it had one.
    @discardableResult
    public mutating func removeValue(for key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        let value = nodes[slot].value
        removeNode(at: slot)
        return value
    }

    /// The keys from the most to the least recently used (O(n); for tests and diagnostics).
    public var keysByRecency: [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(nodes.count)
        var slot = newest
        while slot != Self.none {
            keys.append(nodes[slot].key)
            slot = nodes[slot].older
        }
        return keys
    }

    // MARK: - The list

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = Self.none
        if newest != Self.none { nodes[newest].newer = slot }
        newest = slot
        if oldest == Self.none { oldest = slot }
    }

    /// Takes `slot` out of the list (its own links are left as they were).
    private mutating func unlink(_ slot: Int) {
        let node = nodes[slot]
        if node.newer != Self.none { nodes[node.newer].older = node.older } else { newest = node.older }
        if node.older != Self.none { nodes[node.older].newer = node.newer } else { oldest = node.newer }
    }

    /// Unlinks and deletes the node at `slot`, moving the last node into its place.
    private mutating func removeNode(at slot: Int) {
        unlink(slot)
        slots[nodes[slot].key] = nil
        let last = nodes.count - 1
        if slot != last {
            let moved = nodes[last]
            nodes[slot] = moved
            slots[moved.key] = slot
            if moved.newer != Self.none { nodes[moved.newer].older = slot } else { newest = slot }
            if moved.older != Self.none { nodes[moved.older].newer = slot } else { oldest = slot }
        }
        nodes.removeLast()
    }
}

extension BoundedLRUMap: Sendable where Key: Sendable, Value: Sendable {}

extension BoundedLRUMap.Node: Sendable where Key: Sendable, Value: Sendable {}
