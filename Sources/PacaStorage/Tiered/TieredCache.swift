public import Logging
public import NIOCore
public import PacaCore
import Synchronization

/// The tiered cache of DESIGN.md: L1 memory over optional lower tiers (L2 disk, L3 Redis). Lookups
/// go L1 → L2 → L3; a lower-tier hit is promoted (into L1 through its admission policy; an L3 hit
/// into L2 on its second hit). Fills write L1 at once and the lower tiers through a bounded
/// write-behind queue; an entry evicted from L1 is demoted to L2. The proxy uses the synchronous
/// L1 path on its event loops; applications use the `async` library API.
public final class TieredCache: Sendable {
    /// Settings of the tiers (`CacheConfig` in the original design).
    public struct Configuration: Sendable {
        /// L1 budget. Default 100 MB.
        public var memoryMaxBytes: Int
        /// L1 policy. Default W-TinyLFU (admission beats LRU on skewed traffic with scans).
        public var memoryPolicy: EvictionPolicy
        /// Largest L1 entry; default an eighth of a shard.
        public var memoryMaxEntryBytes: Int?
        /// Lower tiers, in lookup order (typically a `DiskCache`, then a Redis tier).
        public var lowerTiers: [any CacheTier]
        /// Writes queued for the lower tiers before new ones are dropped. Default 10,000.
        public var writeBehindCapacity: Int
        /// Keys remembered as hit once in a tier below L2, so that their second hit copies them
        /// up; past it the least recently hit is forgotten. Default 100,000.
        public var maxLowerHitsRemembered: Int

        /// Creates a configuration with the defaults above.
        public init(
            memoryMaxBytes: Int = 100 << 20, memoryPolicy: EvictionPolicy = .tinyLFU, memoryMaxEntryBytes: Int? = nil,
            lowerTiers: [any CacheTier] = [], writeBehindCapacity: Int = 10_000, maxLowerHitsRemembered: Int = 100_000
        ) {
            self.memoryMaxBytes = memoryMaxBytes
            self.memoryPolicy = memoryPolicy
            self.memoryMaxEntryBytes = memoryMaxEntryBytes
            self.lowerTiers = lowerTiers
            self.writeBehindCapacity = writeBehindCapacity
            self.maxLowerHitsRemembered = maxLowerHitsRemembered
        }
    }

    /// L1.
    public let memory: MemoryCache
    /// The tiers under L1, in lookup order.
    public let lowerTiers: [any CacheTier]
    let clock: any WallClock
    let logger: Logger
    let writeBehind: WriteBehindQueue
    let counters = Counters()
    let l1Latency = LatencyRecorder()
    /// L3 hits seen once, so the second one copies the entry into L2 (at most
    /// `maxLowerHitsRemembered`, least recently hit forgotten first).
    let lowerHitsSeen: Mutex<BoundedLRUMap<String, Void>>

    final class Counters: Sendable {
        let hits = Atomic<Int>(0)
        let misses = Atomic<Int>(0)
        let promotions = Atomic<Int>(0)
        let demotions = Atomic<Int>(0)
        let rejected = Atomic<Int>(0)

        init() {}
    }

    /// Creates the cache.
    public init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.cache")
    ) {
        self.memory = MemoryCache(
            maxBytes: configuration.memoryMaxBytes, policy: configuration.memoryPolicy, maxEntryBytes: configuration.memoryMaxEntryBytes)
        self.lowerTiers = configuration.lowerTiers
        self.clock = clock
        self.logger = logger
        self.writeBehind = WriteBehindQueue(capacity: configuration.writeBehindCapacity)
        self.lowerHitsSeen = Mutex(BoundedLRUMap(capacity: max(1, configuration.maxLowerHitsRemembered)))
    }

    /// Whether there is anything under L1.
    public var hasLowerTiers: Bool { !lowerTiers.isEmpty }

    // MARK: - The proxy's path

    /// L1 only, synchronous: the hit path.
    public func getMemory(_ key: String, now: UnixMillis) -> CacheEntry? {
        memory.get(key, now: now)
    }

    /// Looks `key` up in the tiers under L1 in order; a hit is promoted. Returns the entry and
    /// the name of the tier that had it.
    public func getLower(_ key: String, now: UnixMillis) async -> (entry: CacheEntry, tier: String)? {
        for (index, tier) in lowerTiers.enumerated() {
            guard let entry = await tier.get(key, now: now) else { continue }
            promote(entry, from: index)
            return (entry, tier.name)
        }
        return nil
    }

    /// What a lower tier had for serving.
    public enum LowerHit: Sendable {
        /// A whole entry (promoted as `getLower` does).
        case entry(CacheEntry)
        /// A large L2 entry, verified, whose body is sent from its file (never promoted: it is
        /// over L1's entry limit).
        case file(DiskFileBody)
    }

    /// The L2 tier, when there is one.
    public var disk: DiskCache? {
        lowerTiers.lazy.compactMap { $0 as? DiskCache }.first
    }

    /// `getLower` for the proxy: an L2 entry too large for L1 comes back as a file to stream,
    /// not read into memory.
    /// `filter` sees every entry found before it is promoted: it returns the entry to use (as is,
    /// or marked stale), or `nil` to drop it from that tier (a purge's ban).
    public func getLowerForServing(
        _ key: String, now: UnixMillis, on eventLoop: any EventLoop, filter: @escaping @Sendable (CacheEntry) -> CacheEntry? = { $0 }
    ) async -> (hit: LowerHit, tier: String)? {
        for (index, tier) in lowerTiers.enumerated() {
            if let disk = tier as? DiskCache {
                let found = try? await disk.getForServing(key, now: now, inlineLimit: memory.maxEntryBytes, on: eventLoop).get()
                switch found {
                case .entry(let entry):
                    guard let kept = filter(entry) else {
                        await tier.remove(key)
                        continue
                    }
                    promote(kept, from: index)
                    return (.entry(kept), tier.name)
                case .file(let file):
                    // A large file is served as it is or not at all: a banned one is refetched.
                    guard let kept = filter(file.entry), kept.timing == file.entry.timing else {
                        file.cancel()
                        await tier.remove(key)
                        continue
                    }
                    return (.file(file), tier.name)
                case nil:
                    continue
                }
            }
            guard let entry = try? await tier.get(key, now: now, on: eventLoop).get() else { continue }
            guard let kept = filter(entry) else {
                await tier.remove(key)
                continue
            }
            promote(kept, from: index)
            return (.entry(kept), tier.name)
        }
        return nil
    }

    /// Where `storeOutcome(_:)` put an entry.
    public enum StoreOutcome: Sendable, Equatable {
        /// In L1 (and queued for the tiers below).
        case stored
        /// L1's admission refused it ("cold"); queued for the tiers below.
        case cold
        /// L1's admission refused it and there is no tier below: stored nowhere.
        case refused
        /// Larger than L1's entry limit: stored nowhere.
        case tooLarge

        /// Whether some tier keeps it.
        public var isStored: Bool { self == .stored || self == .cold }
    }

    /// Stores a fill: L1 now (when admitted), the lower tiers through the write-behind queue.
    /// Returns whether some tier keeps it: L1 took it, or L1's admission refused it ("cold")
    /// and a lower tier takes it. An entry larger than L1's entry limit is stored nowhere.
    @discardableResult
    public func store(_ entry: CacheEntry) -> Bool {
        storeOutcome(entry).isStored
    }

    /// `store(_:)`, saying where the entry went.
    public func storeOutcome(_ entry: CacheEntry) -> StoreOutcome {
        let result = memory.insert(entry) { [weak self] evicted in self?.demote(evicted) }
        if result != .stored { counters.rejected.wrappingAdd(1, ordering: .relaxed) }
        guard result != .tooLarge else { return .tooLarge }
        for tier in lowerTiers {
            writeBehind.enqueue { await tier.set(entry) }
        }
        if result == .stored { return .stored }
        return lowerTiers.isEmpty ? .refused : .cold
    }

    /// Removes `key` from every tier (L1 now, the others queued).
    public func remove(_ key: String) {
        memory.remove(key)
        for tier in lowerTiers {
            writeBehind.enqueue { await tier.remove(key) }
        }
    }

    /// Removes `primaryKey` and every variant its vary marker lists, in every tier (a marker
    /// only a lower tier holds is read there first).
    public func removeFamily(_ primaryKey: String) {
        if let marker = memory.peek(primaryKey), marker.isVaryMarker {
            for variant in marker.variantKeys { remove(variant) }
        }
        memory.remove(primaryKey)
        let clock = self.clock
        for tier in lowerTiers {
            writeBehind.enqueue {
                if let marker = await tier.get(primaryKey, now: clock.now()), marker.isVaryMarker {
                    for variant in marker.variantKeys { await tier.remove(variant) }
                }
                await tier.remove(primaryKey)
            }
        }
    }

    private func promote(_ entry: CacheEntry, from index: Int) {
        counters.promotions.wrappingAdd(1, ordering: .relaxed)
        memory.set(entry) { [weak self] evicted in self?.demote(evicted) }
        // An L3 hit goes into the tiers above it only on its second hit (DESIGN.md §3), so
        // one-off reads from a shared Redis do not churn the local disk.
        guard index > 0 else { return }
        let second = lowerHitsSeen.withLock { seen -> Bool in
            if seen.removeValue(for: entry.key) != nil { return true }
            seen.set((), for: entry.key)
            return false
        }
        guard second else { return }
        for tier in lowerTiers.prefix(index) {
            writeBehind.enqueue { await tier.set(entry) }
        }
    }

    private func demote(_ entry: CacheEntry) {
        guard let first = lowerTiers.first else { return }
        let clock = self.clock
        let counters = self.counters
        // Fills are written through, so most evicted entries are already below; only the
        // rest (promoted from L3, or whose write was dropped) are written.
        writeBehind.enqueue {
            guard await !first.contains(entry.key, now: clock.now()) else { return }
            counters.demotions.wrappingAdd(1, ordering: .relaxed)
            await first.set(entry)
        }
    }

    /// Runs `job` once every lower-tier write queued so far has run (the queue drains in order):
    /// a fill frees the nodes' lock only when its entry is in L3. When the queue is full, `job`
    /// runs at once rather than never (the write it would follow was dropped anyway).
    public func afterQueuedWrites(_ job: @escaping @Sendable () async -> Void) {
        guard !writeBehind.enqueue(job) else { return }
        Task { await job() }
    }

    /// Returns when every queued lower-tier write has run (for tests and shutdown).
    public func flushWrites() async {
        await writeBehind.waitUntilIdle()
    }
}
