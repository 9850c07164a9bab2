import Foundation
public import NIOCore
public import PacaCore
import PacaHTTPCaching
import Synchronization

/// A value in the library API: bytes plus string metadata.
public struct CacheValue: Sendable, Equatable {
    /// The stored bytes.
    public var bytes: ByteBuffer
    /// Free-form metadata stored beside the bytes.
    public var metadata: [String: String]

    /// Creates a value.
    public init(bytes: ByteBuffer, metadata: [String: String] = [:]) {
        self.bytes = bytes
        self.metadata = metadata
    }
}

/// Counters of the whole cache (`CacheStats` in the original design).
public struct CacheStats: Sendable, Equatable {
    /// Lookups answered by some tier / by none (library API and proxy).
    public var hits: Int
    public var misses: Int
    /// hits / (hits + misses), 0 when idle.
    public var hitRatio: Double
    /// L1 counters.
    public var memory: MemoryCache.Statistics
    /// L1 lookup latency percentiles (library API lookups), microseconds.
    public var memoryP50Micros: Int
    public var memoryP90Micros: Int = 0
    public var memoryP99Micros: Int
    /// Each lower tier's own report.
    public var tiers: [TierStatistics]
    /// Entries copied up after a lower-tier hit, and down after an L1 eviction.
    public var promotions: Int
    public var demotions: Int
    /// Fills L1 refused (too large or not admitted), and lower-tier writes dropped.
    public var rejectedByMemory: Int
    public var writesDropped: Int
}

extension TieredCache {
    private static let metadataPrefix = "x-meta-"

    /// The value under `key`, from the first tier that has it.
    public func get(_ key: String) async -> CacheValue? {
        let now = clock.now()
        let start = ContinuousClock.now
        let found = memory.get(key, now: now)
        l1Latency.record(nanoseconds: (ContinuousClock.now - start).nanosecondsRounded)
        if let found, !found.isVaryMarker {
            counters.hits.wrappingAdd(1, ordering: .relaxed)
            return Self.value(of: found)
        }
        if let (entry, _) = await getLower(key, now: now) {
            counters.hits.wrappingAdd(1, ordering: .relaxed)
            return Self.value(of: entry)
        }
        counters.misses.wrappingAdd(1, ordering: .relaxed)
        return nil
    }

    /// Whether some tier holds a fresh value under `key`. Unlike `get` it counts no hit or miss
    /// and promotes nothing, so a warmer can ask before loading without skewing the statistics
    /// (a lower tier without an index answers with a full lookup, counted in its own report).
    public func contains(_ key: String) async -> Bool {
        let now = clock.now()
        if let found = memory.peek(key), !found.isVaryMarker, found.timing.storageExpiry > now { return true }
        for tier in lowerTiers where await tier.contains(key, now: now) { return true }
        return false
    }

    /// Stores `value` under `key` for `ttl`.
    public func set(_ key: String, value: CacheValue, ttl: Duration) async {
        store(entry(key, value: value, ttl: ttl, now: clock.now()))
    }

    /// Stores raw bytes under `key` for `ttl`.
    public func set(_ key: String, bytes: [UInt8], ttl: Duration) async {
        await set(key, value: CacheValue(bytes: ByteBuffer(bytes: bytes)), ttl: ttl)
    }

    /// Removes `key` from every tier; returns when the lower tiers have done it too.
    public func delete(_ key: String) async {
        remove(key)
        await flushWrites()
    }

    /// Removes every key matching `pattern` (a `*` glob over keys) from every tier; returns how
    /// many distinct keys went. A key held by several tiers (in memory and on disk, say) counts
    /// once, so two matching keys return 2 however many tiers held them.
    @discardableResult
    public func invalidate(pattern: String) async -> Int {
        let matcher = KeyGlob(pattern)
        await flushWrites()
        // Tiers report counts, not keys: the predicate notes each key it accepts (and so removes).
        let removed = Mutex<Set<String>>([])
        let predicate: @Sendable (String) -> Bool = { key in
            guard matcher.matches(key) else { return false }
            removed.withLock { _ = $0.insert(key) }
            return true
        }
        _ = memory.removeAll(where: predicate)
        for tier in lowerTiers {
            _ = await tier.removeAll(where: predicate)
        }
        return removed.withLock { $0.count }
    }

    /// Empties every tier.
    public func clear() async {
        await flushWrites()
        memory.removeAll()
        for tier in lowerTiers { await tier.removeAll() }
    }

    /// Batch get: the values found, by key.
    public func get(_ keys: [String]) async -> [String: CacheValue] {
        var result: [String: CacheValue] = [:]
        for key in keys {
            if let value = await get(key) { result[key] = value }
        }
        return result
    }

    /// Batch set.
    public func set(_ entries: [(key: String, value: CacheValue, ttl: Duration)]) async {
        let now = clock.now()
        for item in entries { store(entry(item.key, value: item.value, ttl: item.ttl, now: now)) }
    }

    /// Counters and sizes of every tier.
    public func stats() async -> CacheStats {
        let hits = counters.hits.load(ordering: .relaxed)
        let misses = counters.misses.load(ordering: .relaxed)
        var tiers: [TierStatistics] = []
        for tier in lowerTiers { tiers.append(await tier.statistics()) }
        return CacheStats(
            hits: hits, misses: misses, hitRatio: hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses),
            memory: memory.statistics(), memoryP50Micros: l1Latency.percentile(0.5), memoryP90Micros: l1Latency.percentile(0.9),
            memoryP99Micros: l1Latency.percentile(0.99), tiers: tiers, promotions: counters.promotions.load(ordering: .relaxed),
            demotions: counters.demotions.load(ordering: .relaxed), rejectedByMemory: counters.rejected.load(ordering: .relaxed),
            writesDropped: writeBehind.dropped)
    }

    /// Housekeeping: drops expired entries from every tier and settles queued writes.
    public func optimize() async {
        let now = clock.now()
        memory.removeExpired(now: now)
        await flushWrites()
        for tier in lowerTiers { _ = await tier.removeExpired(now: now) }
    }

    /// Finishes queued writes and closes the lower tiers.
    public func shutdown() async {
        await flushWrites()
        for tier in lowerTiers { await tier.shutdown() }
    }

    // MARK: - Codable convenience

    /// Stores `value` JSON-encoded.
    public func set<Value: Encodable>(_ key: String, encoding value: Value, ttl: Duration) async throws {
        let data = try JSONEncoder().encode(value)
        await set(key, value: CacheValue(bytes: ByteBuffer(bytes: data), metadata: ["content-type": "application/json"]), ttl: ttl)
    }

    /// The value under `key` decoded from JSON; `nil` when absent.
    public func get<Value: Decodable>(_ key: String, as type: Value.Type) async throws -> Value? {
        guard let value = await get(key) else { return nil }
        return try JSONDecoder().decode(Value.self, from: Data(value.bytes.readableBytesView))
    }

    // MARK: - Entries

    func entry(_ key: String, value: CacheValue, ttl: Duration, now: UnixMillis) -> CacheEntry {
        let lifetime = max(0, ttl.milliseconds)
        let fields = value.metadata.sorted { $0.key < $1.key }.map { HTTPField(name: Self.metadataPrefix + $0.key, value: $0.value) }
        return CacheEntry(
            key: key, status: 200, headers: fields, body: value.bytes,
            timing: EntryTiming(
                requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: lifetime, storageExpiry: now + lifetime))
    }

    static func value(of entry: CacheEntry) -> CacheValue {
        var metadata: [String: String] = [:]
        for field in entry.headers where field.name.hasPrefix(metadataPrefix) {
            metadata[String(field.name.dropFirst(metadataPrefix.count))] = field.value
        }
        return CacheValue(bytes: entry.body, metadata: metadata)
    }
}

/// `*` globs over whole keys (the library's `invalidate(pattern:)`).
struct KeyGlob: Sendable {
    let parts: [String]

    init(_ pattern: String) {
        parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    }

    func matches(_ text: String) -> Bool {
        guard parts.count > 1 else { return text == parts[0] }
        guard text.hasPrefix(parts[0]), text.hasSuffix(parts[parts.count - 1]),
            text.utf8.count >= parts[0].utf8.count + parts[parts.count - 1].utf8.count
        else { return false }
        var rest = Substring(text.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count))
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}

extension Duration {
    var nanosecondsRounded: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
