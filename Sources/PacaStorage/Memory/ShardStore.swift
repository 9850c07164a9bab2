import PacaCore

/// One shard of `MemoryCache`: a hash index over slots held in arrays, with intrusive
/// doubly-linked lists through the slots, so get, set and evict are O(1) and a hit allocates
/// nothing. Not thread-safe: `MemoryCache` guards each shard with its own `Mutex`.
struct ShardStore: ~Copyable {
    private static let none: Int32 = -1

    private struct Slot {
        var entry: CacheEntry?
        var cost: Int
        var prev: Int32
        var next: Int32
        var frequency: UInt32
    }

    /// A list's two ends.
    private struct Ends {
        var head: Int32 = ShardStore.none
        var tail: Int32 = ShardStore.none
    }

    let policy: EvictionPolicy
    let maxBytes: Int
    private(set) var bytes = 0
    private var index: [String: Int32] = [:]
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// LRU and FIFO: the one list, head = newest.
    private var main = Ends()
    /// LFU: one list per frequency, head = most recent.
    private var lists: [UInt32: Ends] = [:]
    private var minFrequency: UInt32 = 1

    var count: Int { index.count }

    // Counters, read under the shard's lock by `MemoryCache.stats()`.
    var hits = 0
    var misses = 0
    var evictions = 0
    var expirations = 0

    init(policy: EvictionPolicy, maxBytes: Int) {
        self.policy = policy
        self.maxBytes = maxBytes
    }

    /// The live entry under `key`, recording the access; removes it when its storage lifetime
    /// has passed.
    mutating func get(_ key: String, now: UnixMillis) -> CacheEntry? {
        guard let slotIndex = index[key], let entry = slots[Int(slotIndex)].entry else {
            misses &+= 1
            return nil
        }
        if entry.timing.storageExpiry <= now {
            remove(slot: slotIndex)
            expirations &+= 1
            misses &+= 1
            return nil
        }
        touch(slotIndex)
        hits &+= 1
        return entry
    }

    /// The entry without recording an access or checking expiry.
    func peek(_ key: String) -> CacheEntry? {
        guard let slotIndex = index[key] else { return nil }
        return slots[Int(slotIndex)].entry
    }

    /// Stores `entry`, replacing any entry under its key, then evicts until the shard fits its
    /// budget. Returns the evicted entries (not the replaced one) so the caller can demote them.
    mutating func set(_ entry: CacheEntry, cost: Int) -> [CacheEntry] {
        if let existing = index[entry.key] {
            remove(slot: existing)
        }
        var evicted: [CacheEntry] = []
        while bytes + cost > maxBytes, let victim = evictionCandidate() {
            if let old = slots[Int(victim)].entry { evicted.append(old) }
            remove(slot: victim)
            evictions &+= 1
        }
        let slotIndex: Int32
        let slot = Slot(entry: entry, cost: cost, prev: Self.none, next: Self.none, frequency: 1)
        if let free = freeSlots.popLast() {
            slotIndex = free
            slots[Int(free)] = slot
        } else {
            slotIndex = Int32(slots.count)
            slots.append(slot)
        }
        index[entry.key] = slotIndex
        bytes += cost
        pushFront(slotIndex, frequency: policy == .lfu ? 1 : 0)
        minFrequency = 1
        return evicted
    }

    /// Removes the entry under `key`; returns whether one was there.
    @discardableResult
    mutating func remove(_ key: String) -> Bool {
        guard let slotIndex = index[key] else { return false }
        remove(slot: slotIndex)
        return true
    }

    /// Removes every entry whose key satisfies `predicate`; returns how many.
    mutating func removeAll(where predicate: (String) -> Bool) -> Int {
        let victims = index.filter { predicate($0.key) }
        for (_, slotIndex) in victims { remove(slot: slotIndex) }
        return victims.count
    }

    /// Removes entries whose storage lifetime ended at or before `now`; returns how many.
    mutating func removeExpired(now: UnixMillis) -> Int {
        var expired: [Int32] = []
        for (_, slotIndex) in index {
            if let entry = slots[Int(slotIndex)].entry, entry.timing.storageExpiry <= now { expired.append(slotIndex) }
        }
        for slotIndex in expired { remove(slot: slotIndex) }
        expirations &+= expired.count
        return expired.count
    }

    /// All live keys (for pattern invalidation and tests).
    var keys: [String] { Array(index.keys) }

    mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        lists.removeAll()
        main = Ends()
        bytes = 0
        minFrequency = 1
    }

    // MARK: - Lists

    private func listKey(for slotIndex: Int32) -> UInt32 {
        policy == .lfu ? slots[Int(slotIndex)].frequency : 0
    }

    private mutating func touch(_ slotIndex: Int32) {
        switch policy {
        case .fifo:
            return
        case .lru:
            unlink(slotIndex, from: 0)
            pushFront(slotIndex, frequency: 0)
        case .lfu:
            let frequency = slots[Int(slotIndex)].frequency
            guard frequency < UInt32(UInt16.max) else {
                unlink(slotIndex, from: frequency)
                pushFront(slotIndex, frequency: frequency)
                return
            }
            unlink(slotIndex, from: frequency)
            if frequency == minFrequency, lists[frequency] == nil { minFrequency = frequency + 1 }
            slots[Int(slotIndex)].frequency = frequency + 1
            pushFront(slotIndex, frequency: frequency + 1)
        }
    }

    private mutating func evictionCandidate() -> Int32? {
        guard !index.isEmpty else { return nil }
        if policy != .lfu { return main.tail == Self.none ? nil : main.tail }
        if let ends = lists[minFrequency] { return ends.tail }
        // minFrequency is only a hint after removals; find the true minimum.
        guard let smallest = lists.keys.min() else { return nil }
        minFrequency = smallest
        return lists[smallest]?.tail
    }

    private func ends(_ frequency: UInt32) -> Ends {
        policy == .lfu ? lists[frequency] ?? Ends() : main
    }

    private mutating func setEnds(_ ends: Ends, _ frequency: UInt32) {
        if policy != .lfu {
            main = ends
        } else {
            lists[frequency] = ends.head == Self.none ? nil : ends
        }
    }

    private mutating func pushFront(_ slotIndex: Int32, frequency: UInt32) {
        var ends = ends(frequency)
        slots[Int(slotIndex)].prev = Self.none
        slots[Int(slotIndex)].next = ends.head
        if ends.head != Self.none { slots[Int(ends.head)].prev = slotIndex }
        ends.head = slotIndex
        if ends.tail == Self.none { ends.tail = slotIndex }
        setEnds(ends, frequency)
    }

    private mutating func unlink(_ slotIndex: Int32, from frequency: UInt32) {
        var ends = ends(frequency)
        guard ends.head != Self.none else { return }
        let prev = slots[Int(slotIndex)].prev
        let next = slots[Int(slotIndex)].next
        if prev != Self.none { slots[Int(prev)].next = next } else { ends.head = next }
        if next != Self.none { slots[Int(next)].prev = prev } else { ends.tail = prev }
        slots[Int(slotIndex)].prev = Self.none
        slots[Int(slotIndex)].next = Self.none
        setEnds(ends, frequency)
    }

    private mutating func remove(slot slotIndex: Int32) {
        unlink(slotIndex, from: listKey(for: slotIndex))
        if let entry = slots[Int(slotIndex)].entry {
            index[entry.key] = nil
        }
        bytes -= slots[Int(slotIndex)].cost
        slots[Int(slotIndex)].entry = nil
        slots[Int(slotIndex)].cost = 0
        freeSlots.append(slotIndex)
    }
}
