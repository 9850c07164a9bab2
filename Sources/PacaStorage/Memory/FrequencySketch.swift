/// How often keys were asked for lately: a 4-bit count-min sketch (depth 4) behind a doorkeeper
/// bloom filter, with periodic aging — TinyLFU's frequency estimate, after Caffeine's
/// `FrequencySketch`.
///
/// Both tables are sized once at init and never grow, so `increment` and `frequency` allocate
/// nothing (they run on the L1 hit path). A key's first access within an aging period only sets
/// its doorkeeper bits; later accesses count in the sketch, so one-hit wonders never occupy
/// counters. Every `sampleSize` counted increments, all counters are halved and the doorkeeper is
/// cleared, so old popularity fades. Estimates are at most 16 (15 from the sketch, 1 from the
/// doorkeeper) and never under-count within a period; collisions can only over-count.
///
/// Callers pass a hash of the key (`MemoryCache` reuses the one that picks the shard); the sketch
/// mixes it again, so low-entropy or shard-correlated low bits do no harm.
public struct FrequencySketch: Sendable {
    /// 16 counters of 4 bits per word.
    private var table: [UInt64]
    /// One bit per position; three positions per key.
    private var doorkeeper: [UInt64]
    private let tableMask: Int
    private let doorkeeperMask: Int
    /// Counted increments since the last aging.
    public private(set) var additions = 0
    /// Counted increments between two agings; `MemoryCache` keeps it at ten times the number of
    /// live entries, within the bounds of `setPeriod(liveEntries:)`.
    public var sampleSize: Int

    /// The smallest aging period `MemoryCache` uses, so a nearly empty shard does not age on
    /// almost every access.
    public static let minimumSampleSize = 160

    /// Creates a sketch for about `capacity` keys: one 64-bit word of counters and 64 doorkeeper
    /// bits per key (rounded up to a power of two), aging every `10 × capacity` increments.
    public init(capacity: Int) {
        var words = 8
        while words < capacity, words < 1 << 24 { words <<= 1 }
        table = Array(repeating: 0, count: words)
        doorkeeper = Array(repeating: 0, count: words)
        tableMask = words - 1
        doorkeeperMask = words * 64 - 1
        sampleSize = max(Self.minimumSampleSize, 10 * capacity)
    }

    /// Sets the aging period for a cache of `liveEntries` keys: ten times as many counted
    /// increments (at least `minimumSampleSize`), but never fewer than the sketch has counter
    /// words. Aging is a pass over every word of the table and of the doorkeeper, and the table is
    /// sized for the cache's capacity, not for what it holds: a large, nearly empty L1 with a few
    /// hot keys used to age every 160 increments, a pass over hundreds of KiB each time (tens of
    /// microseconds on the event loop, several percent of a hit). Now a pass costs at most about
    /// two words per counted increment however empty the cache.
    public mutating func setPeriod(liveEntries: Int) {
        sampleSize = max(Self.minimumSampleSize, 10 * liveEntries, table.count)
    }

    /// The estimated number of accesses to the key with `hash` in the current aging period,
    /// 0 through 16.
    public func frequency(hash: Int) -> Int {
        let mixed = Self.spread(hash)
        let start = Int(truncatingIfNeeded: mixed & 3) << 2
        var result = 15 as UInt64
        for depth in 0..<4 {
            let word = table[index(mixed, depth)]
            result = min(result, (word >> UInt64((start + depth) << 2)) & 0xF)
        }
        return Int(result) + (doorkeeperContains(mixed) ? 1 : 0)
    }

    /// Records one access to the key with `hash`; ages the sketch when the period is over.
    public mutating func increment(hash: Int) {
        let mixed = Self.spread(hash)
        guard doorkeeperInsert(mixed) else { return }
        let start = Int(truncatingIfNeeded: mixed & 3) << 2
        var added = false
        for depth in 0..<4 {
            let slot = index(mixed, depth)
            let shift = UInt64((start + depth) << 2)
            if (table[slot] >> shift) & 0xF != 0xF {
                table[slot] &+= 1 << shift
                added = true
            }
        }
        guard added else { return }
        additions += 1
        if additions >= sampleSize { age() }
    }

    /// Halves every counter and clears the doorkeeper: what was popular a period ago counts half.
    public mutating func age() {
        var odd = 0
        for slot in table.indices {
            odd += (table[slot] & 0x1111_1111_1111_1111).nonzeroBitCount
            table[slot] = (table[slot] >> 1) & 0x7777_7777_7777_7777
        }
        for slot in doorkeeper.indices { doorkeeper[slot] = 0 }
        // Halving drops the odd bit of each counter; a key spans four counters.
        additions = max(0, (additions - odd / 4) / 2)
    }

    /// Forgets everything.
    public mutating func clear() {
        for slot in table.indices { table[slot] = 0 }
        for slot in doorkeeper.indices { doorkeeper[slot] = 0 }
        additions = 0
    }

    // MARK: - Hashing

    @inline(__always)
    private static func spread(_ hash: Int) -> UInt64 {
        // splitmix64's finaliser: every input bit reaches every output bit.
        var x = UInt64(bitPattern: Int64(hash))
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    @inline(__always)
    private static func seed(_ depth: Int) -> UInt64 {
        switch depth {
        case 0: 0xC3A5_C85C_97CB_3127
        case 1: 0xB492_B66F_BE98_F273
        case 2: 0x9AE1_6A3B_2F90_404F
        default: 0xCBF2_9CE4_8422_2325
        }
    }

    @inline(__always)
    private func index(_ mixed: UInt64, _ depth: Int) -> Int {
        let seed = Self.seed(depth)
        var hash = (mixed &+ seed) &* seed
        hash &+= hash >> 32
        return Int(truncatingIfNeeded: hash) & tableMask
    }

    /// The three doorkeeper bit positions of a key (double hashing over the two halves).
    @inline(__always)
    private func doorkeeperBit(_ mixed: UInt64, _ probe: UInt64) -> (word: Int, mask: UInt64) {
        let position = Int(truncatingIfNeeded: (mixed &+ probe &* ((mixed >> 32) | 1)) >> 7) & doorkeeperMask
        return (position >> 6, 1 << UInt64(position & 63))
    }

    private func doorkeeperContains(_ mixed: UInt64) -> Bool {
        for probe in 0 as UInt64..<3 {
            let bit = doorkeeperBit(mixed, probe)
            if doorkeeper[bit.word] & bit.mask == 0 { return false }
        }
        return true
    }

    /// Sets the key's bits; returns whether they were all set already (the key was seen before).
    private mutating func doorkeeperInsert(_ mixed: UInt64) -> Bool {
        var present = true
        for probe in 0 as UInt64..<3 {
            let bit = doorkeeperBit(mixed, probe)
            if doorkeeper[bit.word] & bit.mask == 0 {
                present = false
                doorkeeper[bit.word] |= bit.mask
            }
        }
        return present
    }
}
