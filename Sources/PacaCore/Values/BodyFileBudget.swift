import Synchronization

/// What the `sendfile` mirrors of one engine may hold together: at most `limit` bytes and
/// `maxFiles` mirrors (each holds a descriptor, plus one per event loop that sent it). When a new
/// mirror has no room, the mirrors not sent since the clock hand last passed them are taken back
/// from their entries (CLOCK, an approximation of least recently used), so the bodies sent now
/// get the room, never the ones that were hot once.
public final class BodyFileBudget: Sendable {
    /// Most bytes held at once.
    public let limit: Int
    /// Most mirrors alive at once.
    public let maxFiles: Int
    private let held = Atomic<Int>(0)
    private let clock: Mutex<Clock>

    /// The mirrors made, in a ring the hand sweeps.
    private struct Clock {
        var slots: [Slot] = []
        var hand = 0
    }

    /// One mirror made: its entry, to take it back, and the mirror, to read its mark. Both
    /// weak: the ring never keeps an entry or a mirror alive.
    private struct Slot {
        weak var entry: CacheEntry?
        weak var file: BodyFile?
    }

    /// Creates a budget of `limit` bytes and `maxFiles` mirrors.
    public init(limit: Int, maxFiles: Int = 256) {
        self.limit = limit
        self.maxFiles = maxFiles
        self.clock = Mutex(Clock())
    }

    /// Bytes held by the mirrors alive now.
    public var bytesHeld: Int { held.load(ordering: .relaxed) }

    /// Mirrors alive now.
    public var filesHeld: Int { clock.withLock { $0.slots.count { $0.file != nil } } }

    /// Makes `entry`'s mirror when there is room; with `evict`, takes back mirrors not sent lately
    /// to make it.
    func mirror(_ entry: CacheEntry, evict: Bool) -> BodyFile.Outcome {
        let length = entry.body.readableBytes
        guard length <= limit, maxFiles > 0 else { return .overBudget }
        let victims = clock.withLock { clock -> [CacheEntry]? in
            clock.slots.removeAll { $0.file == nil }
            let full = held.load(ordering: .relaxed) + length > limit || clock.slots.count >= maxFiles
            guard full else { return [] }
            guard evict else { return nil }
            return Self.victims(&clock, room: length, held: held.load(ordering: .relaxed), limit: limit, maxFiles: maxFiles)
        }
        guard let victims else { return .overBudget }
        // Outside the lock: an entry's mirror lock is never taken under the ring's.
        for victim in victims { victim.dropMirror() }
        let outcome = BodyFile.make(copying: entry.body, budget: self)
        if case .made(let file) = outcome {
            clock.withLock { $0.slots.append(Slot(entry: entry, file: file)) }
        }
        return outcome
    }

    /// Sweeps the hand until `room` bytes and one slot would be free, clearing marks as it goes
    /// (at most two turns); returns the entries whose mirrors go.
    private static func victims(_ clock: inout Clock, room: Int, held: Int, limit: Int, maxFiles: Int) -> [CacheEntry] {
        var victims: [CacheEntry] = []
        var freed = 0
        var count = clock.slots.count
        var steps = 2 * count
        while (held - freed + room > limit || count >= maxFiles), steps > 0, !clock.slots.isEmpty {
            steps -= 1
            clock.hand %= clock.slots.count
            let slot = clock.slots[clock.hand]
            guard let file = slot.file else {
                clock.slots.remove(at: clock.hand)
                count -= 1
                continue
            }
            if file.referenced.exchange(false, ordering: .relaxed) {
                clock.hand += 1
                continue
            }
            clock.slots.remove(at: clock.hand)
            count -= 1
            freed += file.length
            if let entry = slot.entry { victims.append(entry) }
        }
        return victims
    }

    func reserve(_ bytes: Int) -> Bool {
        guard held.add(bytes, ordering: .relaxed).newValue <= limit else {
            held.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }
}
