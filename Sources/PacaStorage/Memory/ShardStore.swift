import PacaCore

/// One shard of `MemoryCache`: a hash index over slots held in arrays, with intrusive
/// doubly-linked lists through the slots, so get, set and evict are O(1) and a hit allocates
/// nothing. Not thread-safe: `MemoryCache` guards each shard with its own `Mutex`.
///
/// Under `.tinyLFU` the slots sit on three lists — window, probation, protected (W-TinyLFU) —
/// and a `FrequencySketch` sized at init counts every lookup, hit or miss.
struct ShardStore: ~Copyable {
    private static let none: Int32 = -1
    /// The sketch is sized for entries of about this many bytes; larger entries only make its
    /// estimates more exact.
    static let sketchBytesPerEntry = 1024

    /// Where a slot lives under `.tinyLFU` (the raw value is its list's key); `.window` otherwise.
    private enum Segment: UInt32 {
        case window, probation, protected
    }

    private struct Slot {
        var entry: CacheEntry?
        var cost: Int
        var prev: Int32
        var next: Int32
        var frequency: UInt32
        var segment: Segment
        /// The key's hash as `MemoryCache` computed it; the sketch needs it to weigh a victim.
        var hash: Int
    }

    /// A list's two ends.
    private struct Ends {
        var head: Int32 = ShardStore.none
        var tail: Int32 = ShardStore.none
    }

    let policy: EvictionPolicy
    let maxBytes: Int
    private(set) var bytes = 0
    private var index: [HashedKey: Int32] = [:]
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// LRU and FIFO: the one list, head = newest.
    private var main = Ends()
    /// LFU: one list per frequency, head = most recent.
    private var lists: [UInt32: Ends] = [:]
    private var minFrequency: UInt32 = 1

    // W-TinyLFU: three LRU lists, head = most recent. Probation holds `bytes - windowBytes -
    // protectedBytes`. Invariants after every operation: `bytes <= maxBytes`,
    // `windowBytes <= windowMaxBytes` and `protectedBytes <= protectedMaxBytes`.
    private var window = Ends()
    private var probation = Ends()
    private var protected = Ends()
    private var windowBytes = 0
    private var protectedBytes = 0
    /// 1% of the shard: new entries prove themselves here before facing admission.
    let windowMaxBytes: Int
    /// 80% of the main area: entries hit at least once while in probation.
    let protectedMaxBytes: Int
    private var sketch: FrequencySketch

    var count: Int { index.count }

    // Counters, read under the shard's lock by `MemoryCache.statistics()`.
    var hits = 0
    var misses = 0
    var evictions = 0
    var expirations = 0
    var rejections = 0

    init(policy: EvictionPolicy, maxBytes: Int) {
        self.policy = policy
        self.maxBytes = maxBytes
        windowMaxBytes = maxBytes / 100
        protectedMaxBytes = (maxBytes - maxBytes / 100) / 5 * 4
        sketch = FrequencySketch(capacity: policy == .tinyLFU ? maxBytes / Self.sketchBytesPerEntry : 0)
    }

    /// The live entry under `key` (whose hash is `hash`), recording the access; removes it when
    /// its storage lifetime has passed. Under `.tinyLFU` every call counts in the sketch, so a
    /// miss followed by `set` is one access.
    mutating func get(_ key: String, hash: Int, now: UnixMillis) -> CacheEntry? {
        if policy == .tinyLFU { sketch.increment(hash: hash) }
        guard let slotIndex = index[HashedKey(key, hash: hash)], let entry = slots[Int(slotIndex)].entry else {
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
        guard let slotIndex = index[HashedKey(key)] else { return nil }
        return slots[Int(slotIndex)].entry
    }

    /// The sketch's estimate for the key with `hash` (0 unless the policy is `.tinyLFU`).
    func frequency(hash: Int) -> Int {
        policy == .tinyLFU ? sketch.frequency(hash: hash) : 0
    }

    /// Stores `entry`, replacing any entry under its key, then evicts until the shard fits its
    /// budget. Returns the evicted entries (not the replaced one) so the caller can demote them,
    /// and whether `entry` stayed: only `.tinyLFU` refuses, when the entry leaves the window at
    /// once (it is larger than the window) and loses admission.
    mutating func set(_ entry: CacheEntry, cost: Int, hash: Int) -> (evicted: [CacheEntry], stored: Bool) {
        if policy == .tinyLFU { return setAdmitting(entry, cost: cost, hash: hash) }
        if let existing = index[HashedKey(entry.key, hash: hash)] {
            remove(slot: existing)
        }
        var evicted: [CacheEntry] = []
        while bytes + cost > maxBytes, let victim = evictionCandidate() {
            if let old = slots[Int(victim)].entry { evicted.append(old) }
            remove(slot: victim)
            evictions &+= 1
        }
        let slotIndex = makeSlot(entry, cost: cost, hash: hash, segment: .window)
        pushFront(slotIndex, list: policy == .lfu ? 1 : 0)
        minFrequency = 1
        return (evicted, true)
    }

    /// Removes the entry under `key`; returns whether one was there.
    @discardableResult
    mutating func remove(_ key: String) -> Bool {
        guard let slotIndex = index[HashedKey(key)] else { return false }
        remove(slot: slotIndex)
        return true
    }

    /// Removes every entry whose key satisfies `predicate`; returns how many.
    mutating func removeAll(where predicate: (String) -> Bool) -> Int {
        let victims = index.filter { predicate($0.key.key) }
        for (_, slotIndex) in victims { remove(slot: slotIndex) }
        return victims.count
    }

    /// Removes (or, with `replace`, rewrites in place) every entry `predicate` picks; returns how
    /// many it picked. A rewrite keeps the entry's place and cost (a soft purge marks it stale).
    mutating func purge(where predicate: (CacheEntry) -> Bool, replace: ((CacheEntry) -> CacheEntry)?, dryRun: Bool) -> Int {
        var picked: [Int32] = []
        var counted = 0
        for (_, slotIndex) in index {
            if let entry = slots[Int(slotIndex)].entry, predicate(entry) {
                picked.append(slotIndex)
                if !entry.isVaryMarker { counted += 1 }
            }
        }
        guard !dryRun else { return counted }
        for slotIndex in picked {
            if let replace, let entry = slots[Int(slotIndex)].entry {
                slots[Int(slotIndex)].entry = replace(entry)
            } else {
                remove(slot: slotIndex)
            }
        }
        return counted
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
    var keys: [String] { index.keys.map(\.key) }

    /// Removes every entry; the frequency sketch keeps its history (popularity outlives a purge).
    mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        lists.removeAll()
        main = Ends()
        window = Ends()
        probation = Ends()
        protected = Ends()
        windowBytes = 0
        protectedBytes = 0
        bytes = 0
        minFrequency = 1
    }

    // MARK: - W-TinyLFU

    /// Puts `entry` at the head of the window (a replacement keeps its old segment: it was
    /// admitted already), then moves window overflow into the main area through admission: each
    /// candidate leaving the window is compared with the main area's LRU victims (probation
    /// first) while the shard is over budget; the more frequent one stays (ties keep the victim).
    private mutating func setAdmitting(_ entry: CacheEntry, cost: Int, hash: Int) -> (evicted: [CacheEntry], stored: Bool) {
        var segment = Segment.window
        if let existing = index[HashedKey(entry.key, hash: hash)] {
            segment = slots[Int(existing)].segment
            remove(slot: existing)
        }
        let newSlot = makeSlot(entry, cost: cost, hash: hash, segment: segment)
        pushFront(newSlot, list: segment.rawValue)
        demoteProtectedOverflow()

        var evicted: [CacheEntry] = []
        var stored = true
        while windowBytes > windowMaxBytes, window.tail != Self.none {
            let candidate = window.tail
            let candidateFrequency = sketch.frequency(hash: slots[Int(candidate)].hash)
            var admitted = true
            while bytes > maxBytes, let victim = mainVictim() {
                if candidateFrequency > sketch.frequency(hash: slots[Int(victim)].hash) {
                    evict(victim, into: &evicted)
                } else {
                    admitted = false
                    break
                }
            }
            if admitted {
                unlink(candidate, from: Segment.window.rawValue)
                slots[Int(candidate)].segment = .probation
                pushFront(candidate, list: Segment.probation.rawValue)
            } else if candidate == newSlot {
                remove(slot: candidate)
                rejections &+= 1
                stored = false
            } else {
                evict(candidate, into: &evicted)
            }
        }
        // The main area may have grown into the window's unused share; give it back in LRU order.
        while bytes > maxBytes, let victim = mainVictim() ?? (window.tail == Self.none ? nil : window.tail) {
            if victim == newSlot {
                remove(slot: victim)
                rejections &+= 1
                stored = false
            } else {
                evict(victim, into: &evicted)
            }
        }
        sketch.setPeriod(liveEntries: index.count)
        return (evicted, stored)
    }

    /// The main area's least valuable entry: probation's LRU end, else protected's.
    private func mainVictim() -> Int32? {
        if probation.tail != Self.none { return probation.tail }
        if protected.tail != Self.none { return protected.tail }
        return nil
    }

    private mutating func evict(_ slotIndex: Int32, into evicted: inout [CacheEntry]) {
        if let old = slots[Int(slotIndex)].entry { evicted.append(old) }
        remove(slot: slotIndex)
        evictions &+= 1
    }

    /// Moves protected's LRU entries to the head of probation until protected fits its share.
    private mutating func demoteProtectedOverflow() {
        while protectedBytes > protectedMaxBytes, protected.tail != Self.none {
            let demoted = protected.tail
            unlink(demoted, from: Segment.protected.rawValue)
            slots[Int(demoted)].segment = .probation
            pushFront(demoted, list: Segment.probation.rawValue)
        }
    }

    // MARK: - Lists

    private mutating func makeSlot(_ entry: CacheEntry, cost: Int, hash: Int, segment: Segment) -> Int32 {
        let slotIndex: Int32
        let slot = Slot(entry: entry, cost: cost, prev: Self.none, next: Self.none, frequency: 1, segment: segment, hash: hash)
        if let free = freeSlots.popLast() {
            slotIndex = free
            slots[Int(free)] = slot
        } else {
            slotIndex = Int32(slots.count)
            slots.append(slot)
        }
        index[HashedKey(entry.key, hash: hash)] = slotIndex
        bytes += cost
        return slotIndex
    }

    /// The key of the list a slot is on: its frequency (LFU), its segment (TinyLFU), else 0.
    private func listKey(for slotIndex: Int32) -> UInt32 {
        switch policy {
        case .lfu: slots[Int(slotIndex)].frequency
        case .tinyLFU: slots[Int(slotIndex)].segment.rawValue
        case .lru, .fifo: 0
        }
    }

    private mutating func touch(_ slotIndex: Int32) {
        switch policy {
        case .fifo:
            return
        case .lru:
            unlink(slotIndex, from: 0)
            pushFront(slotIndex, list: 0)
        case .lfu:
            let frequency = slots[Int(slotIndex)].frequency
            guard frequency < UInt32(UInt16.max) else {
                unlink(slotIndex, from: frequency)
                pushFront(slotIndex, list: frequency)
                return
            }
            unlink(slotIndex, from: frequency)
            if frequency == minFrequency, lists[frequency] == nil { minFrequency = frequency + 1 }
            slots[Int(slotIndex)].frequency = frequency + 1
            pushFront(slotIndex, list: frequency + 1)
        case .tinyLFU:
            // A hit in probation earns a place in protected; protected overflow goes back to
            // probation's head, so the entry gets another chance before it can be a victim.
            let segment = slots[Int(slotIndex)].segment
            unlink(slotIndex, from: segment.rawValue)
            let next: Segment = segment == .probation ? .protected : segment
            slots[Int(slotIndex)].segment = next
            pushFront(slotIndex, list: next.rawValue)
            if segment == .probation { demoteProtectedOverflow() }
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

    private func ends(_ list: UInt32) -> Ends {
        switch policy {
        case .lfu: lists[list] ?? Ends()
        case .tinyLFU:
            switch Segment(rawValue: list) {
            case .window?: window
            case .probation?: probation
            case .protected?: protected
            case nil: preconditionFailure("no TinyLFU segment \(list)")
            }
        case .lru, .fifo: main
        }
    }

    private mutating func setEnds(_ ends: Ends, _ list: UInt32) {
        switch policy {
        case .lfu:
            lists[list] = ends.head == Self.none ? nil : ends
        case .tinyLFU:
            switch Segment(rawValue: list) {
            case .window?: window = ends
            case .probation?: probation = ends
            case .protected?: protected = ends
            case nil: preconditionFailure("no TinyLFU segment \(list)")
            }
        case .lru, .fifo:
            main = ends
        }
    }

    /// Keeps the window's and protected's byte counts; probation's is the rest.
    @inline(__always)
    private mutating func account(_ slotIndex: Int32, list: UInt32, sign: Int) {
        guard policy == .tinyLFU else { return }
        if list == Segment.window.rawValue {
            windowBytes += sign * slots[Int(slotIndex)].cost
        } else if list == Segment.protected.rawValue {
            protectedBytes += sign * slots[Int(slotIndex)].cost
        }
    }

    private mutating func pushFront(_ slotIndex: Int32, list: UInt32) {
        var ends = ends(list)
        slots[Int(slotIndex)].prev = Self.none
        slots[Int(slotIndex)].next = ends.head
        if ends.head != Self.none { slots[Int(ends.head)].prev = slotIndex }
        ends.head = slotIndex
        if ends.tail == Self.none { ends.tail = slotIndex }
        setEnds(ends, list)
        account(slotIndex, list: list, sign: 1)
    }

    private mutating func unlink(_ slotIndex: Int32, from list: UInt32) {
        var ends = ends(list)
        guard ends.head != Self.none else { return }
        let prev = slots[Int(slotIndex)].prev
        let next = slots[Int(slotIndex)].next
        if prev != Self.none { slots[Int(prev)].next = next } else { ends.head = next }
        if next != Self.none { slots[Int(next)].prev = prev } else { ends.tail = prev }
        slots[Int(slotIndex)].prev = Self.none
        slots[Int(slotIndex)].next = Self.none
        setEnds(ends, list)
        account(slotIndex, list: list, sign: -1)
    }

    private mutating func remove(slot slotIndex: Int32) {
        unlink(slotIndex, from: listKey(for: slotIndex))
        if let entry = slots[Int(slotIndex)].entry {
            index[HashedKey(entry.key, hash: slots[Int(slotIndex)].hash)] = nil
        }
        bytes -= slots[Int(slotIndex)].cost
        slots[Int(slotIndex)].entry = nil
        slots[Int(slotIndex)].cost = 0
        freeSlots.append(slotIndex)
    }
}

/// A key with its hash computed once: the shard is picked, the sketch fed and the index probed
/// with one SipHash of the key instead of one per use. Equality still compares the whole key.
struct HashedKey: Hashable {
    let key: String
    let hash: Int

    init(_ key: String, hash: Int) {
        self.key = key
        self.hash = hash
    }

    init(_ key: String) {
        self.init(key, hash: key.hashValue)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    /// The dictionary's bucket straight from `hash` (already the key's SipHash under the
    /// process's random seed), mixed with the table's own seed by a multiply and two shifts:
    /// without it every lookup ran a second `Hasher` over the one word.
    func _rawHashValue(seed: Int) -> Int {
        var x = UInt64(bitPattern: Int64(hash ^ seed))
        x ^= x >> 32
        x &*= 0xD6E8_FEB8_6659_FD93
        x ^= x >> 32
        return Int(bitPattern: UInt(x))
    }

    static func == (lhs: HashedKey, rhs: HashedKey) -> Bool {
        lhs.hash == rhs.hash && lhs.key == rhs.key
    }
}
