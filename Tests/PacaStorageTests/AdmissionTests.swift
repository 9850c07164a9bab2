import NIOCore
import PacaCore
import PacaStorage
import Testing

/// 2026-01-01T00:00:00Z, the time every entry here is fetched at.
private let t0: UnixMillis = 1_767_225_600_000

/// An entry under `key` with a body of `bodyBytes` bytes that stays for an hour.
private func makeEntry(_ key: String, bodyBytes: Int = 700) -> CacheEntry {
    var body = ByteBufferAllocator().buffer(capacity: bodyBytes)
    body.writeRepeatingByte(UInt8(ascii: "x"), count: bodyBytes)
    let timing = EntryTiming(
        requestTime: t0, responseTime: t0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: t0 + 3_600_000)
    return CacheEntry(key: key, status: 200, headers: [], body: body, timing: timing)
}

/// What the proxy does per request: look up, and store the response on a miss.
@discardableResult
private func request(_ cache: MemoryCache, _ key: String, bodyBytes: Int = 700) -> Bool {
    if cache.get(key, now: t0) != nil { return true }
    cache.insert(makeEntry(key, bodyBytes: bodyBytes))
    return false
}

/// Hot keys `hot-00` … and scan keys `s-0000` …: all six characters long, so one cost.
private func hotKey(_ index: Int) -> String { "hot-\(index < 10 ? "0" : "")\(index)" }
private func scanKey(_ index: Int) -> String { "s-" + String(repeating: "0", count: 4 - String(index).count) + String(index) }

@Suite("Admission")
struct AdmissionTests {
    @Test("the sketch counts one access per increment, the first in the doorkeeper, and saturates at 16")
    func sketchCounts() {
        var sketch = FrequencySketch(capacity: 1024)
        let hot = 0x1234_5678
        let cold = 0x0BAD_CAFE
        #expect(sketch.frequency(hash: hot) == 0)
        sketch.increment(hash: hot)
        #expect(sketch.frequency(hash: hot) == 1)
        #expect(sketch.additions == 0, "a first access only sets doorkeeper bits")
        for _ in 0..<5 { sketch.increment(hash: hot) }
        #expect(sketch.frequency(hash: hot) == 6)
        #expect(sketch.additions == 5)
        #expect(sketch.frequency(hash: cold) == 0)
        for _ in 0..<40 { sketch.increment(hash: hot) }
        #expect(sketch.frequency(hash: hot) == 16)
    }

    @Test("the sketch halves its counters and clears the doorkeeper after sampleSize increments")
    func sketchAges() {
        var sketch = FrequencySketch(capacity: 1024)
        #expect(sketch.sampleSize == 10_240)
        sketch.sampleSize = 10
        let key = 42
        for _ in 0..<10 { sketch.increment(hash: key) }
        #expect(sketch.frequency(hash: key) == 10)
        // The eleventh access is the tenth counted one: the period ends, 10 becomes 5.
        sketch.increment(hash: key)
        #expect(sketch.frequency(hash: key) == 5)
        #expect(sketch.additions == 5)

        sketch.age()
        #expect(sketch.frequency(hash: key) == 2)
        sketch.clear()
        #expect(sketch.frequency(hash: key) == 0)
    }

    @Test("the aging period is ten times the live entries, but never shorter than the sketch's table")
    func agingPeriodBoundsItsCost() {
        // 100 MB of L1 in one shard at 1 KiB an entry: a table of 131,072 words.
        var large = FrequencySketch(capacity: 100_000)
        large.setPeriod(liveEntries: 3)
        #expect(large.sampleSize == 131_072)
        large.setPeriod(liveEntries: 20_000)
        #expect(large.sampleSize == 200_000)
        var small = FrequencySketch(capacity: 10)
        small.setPeriod(liveEntries: 3)
        #expect(small.sampleSize == FrequencySketch.minimumSampleSize)
        small.setPeriod(liveEntries: 50)
        #expect(small.sampleSize == 500)
        // Through the cache: a nearly empty 64 MiB tinyLFU shard with 20 hot keys (300 counted
        // accesses before all saturate) does not age every 160 of them.
        let cache = MemoryCache(maxBytes: 64 << 20, policy: .tinyLFU, shardCount: 1)
        let keys = (0..<20).map(hotKey)
        for key in keys { _ = cache.set(makeEntry(key)) }
        for _ in 0..<20 {
            for key in keys { _ = cache.get(key, now: t0) }
        }
        for key in keys { #expect(cache.estimatedFrequency(of: key) >= 15, "\(key) not halved") }
    }

    @Test("tinyLFU counts lookups, misses included, per key")
    func getCountsMisses() {
        let cache = MemoryCache(maxBytes: 1 << 20, policy: .tinyLFU, shardCount: 1)
        for _ in 0..<4 { #expect(cache.get("absent", now: t0) == nil) }
        #expect(cache.estimatedFrequency(of: "absent") == 4)
        #expect(cache.estimatedFrequency(of: "never") == 0)
        let lru = MemoryCache(maxBytes: 1 << 20, policy: .lru, shardCount: 1)
        _ = lru.get("absent", now: t0)
        #expect(lru.estimatedFrequency(of: "absent") == 0)
    }

    @Test("a hot set survives a scan of one-hit wonders under tinyLFU, and is flushed under LRU")
    func hotSetSurvivesScan() {
        let cost = makeEntry(hotKey(0)).memoryCost
        #expect(cost == makeEntry(scanKey(0)).memoryCost)
        for policy in [EvictionPolicy.tinyLFU, .lru] {
            let cache = MemoryCache(maxBytes: 100 * cost, policy: policy, shardCount: 1)
            for round in 0..<4 {
                for index in 0..<20 {
                    let hit = request(cache, hotKey(index))
                    #expect(hit == (round > 0), "\(policy), round \(round)")
                }
            }
            for index in 0..<1_000 { #expect(!request(cache, scanKey(index))) }
            let survivors = (0..<20).filter { cache.peek(hotKey($0)) != nil }.count
            let stats = cache.statistics()
            #expect(stats.bytes <= 100 * cost)
            if policy == .tinyLFU {
                #expect(survivors == 20, "tinyLFU keeps the hot set")
                #expect(stats.entries <= 100)
            } else {
                #expect(survivors == 0, "LRU lets the scan flush the hot set")
            }
        }
    }

    @Test("the byte budget is never exceeded, for every policy and mixed sizes")
    func budgetHolds() {
        let trace = SyntheticTrace.zipfWithScans(keys: 2_000, length: 10_000, bodyBytes: 100...20_000, seed: 7)
        for policy in EvictionPolicy.allCases {
            for shardCount in [1, 4] {
                let budget = 4 << 20
                let cache = MemoryCache(maxBytes: budget, policy: policy, shardCount: shardCount)
                var overBudget = 0
                for item in trace {
                    request(cache, item.key, bodyBytes: item.bodyBytes)
                    if cache.statistics().bytes > budget { overBudget += 1 }
                }
                let stats = cache.statistics()
                #expect(overBudget == 0, "\(policy) with \(shardCount) shards went over budget")
                #expect(stats.bytes == cache.keys.reduce(0) { $0 + (cache.peek($1)?.memoryCost ?? 0) })
                #expect(stats.entries == cache.keys.count)
            }
        }
    }

    @Test("admission refuses a cold entry with .rejected, and admits it once it is asked for often")
    func rejectedIsReported() {
        let cost = makeEntry(hotKey(0)).memoryCost
        // The window (1% of 64 entries) is smaller than one entry: each new entry faces admission.
        let cache = MemoryCache(maxBytes: 64 * cost, policy: .tinyLFU, shardCount: 1)
        for round in 0..<4 {
            for index in 0..<64 {
                let hit = request(cache, hotKey(index))
                #expect(hit == (round > 0), "round \(round)")
            }
        }
        #expect(cache.statistics().entries == 64)

        var evicted: [String] = []
        #expect(cache.get("cold-0", now: t0) == nil)
        #expect(cache.insert(makeEntry("cold-0")) { evicted.append($0.key) } == .rejected)
        #expect(evicted.isEmpty, "a rejected entry is not reported as evicted")
        #expect(cache.peek("cold-0") == nil)
        #expect(!cache.set(makeEntry("cold-0")))
        #expect(cache.statistics().rejections == 2)
        #expect(cache.statistics().entries == 64)

        // Asked for more often than the hot keys, it wins against probation's LRU entry.
        for _ in 0..<8 { _ = cache.get("cold-0", now: t0) }
        #expect(cache.insert(makeEntry("cold-0")) { evicted.append($0.key) } == .stored)
        #expect(cache.peek("cold-0") != nil)
        #expect(evicted.count == 1 && evicted.allSatisfy { $0.hasPrefix("hot-") })

        #expect(cache.insert(makeEntry("huge", bodyBytes: 64 * cost)) == .tooLarge)
        #expect(!cache.set(makeEntry("huge", bodyBytes: 64 * cost)))
    }

    @Test("other policies never reject")
    func otherPoliciesStore() {
        let cost = makeEntry(hotKey(0)).memoryCost
        for policy in [EvictionPolicy.lru, .lfu, .fifo] {
            let cache = MemoryCache(maxBytes: 16 * cost, policy: policy, shardCount: 1)
            for index in 0..<100 { #expect(cache.insert(makeEntry(scanKey(index))) == .stored) }
            #expect(cache.statistics().rejections == 0)
        }
    }

    @Test("Zipf(0.9) with 20% one-time scan keys: tinyLFU beats LRU at 1% and 10% of the distinct bytes")
    func syntheticTraceHitRatio() {
        let trace = SyntheticTrace.zipfWithScans(keys: 10_000, exponent: 0.9, scanFraction: 0.2, length: 100_000, seed: 2026)
        #expect(trace == SyntheticTrace.zipfWithScans(keys: 10_000, exponent: 0.9, scanFraction: 0.2, length: 100_000, seed: 2026))
        let distinct = TraceReplay.distinctBytes(of: trace)
        for percent in [1, 10] {
            let budget = distinct * percent / 100
            let lru = TraceReplay.run(trace, on: MemoryCache(maxBytes: budget, policy: .lru))
            let tinyLFU = TraceReplay.run(trace, on: MemoryCache(maxBytes: budget, policy: .tinyLFU))
            print(
                "cache \(percent)% of \(distinct) distinct bytes: hit ratio LRU \(lru.hitRatio), tinyLFU \(tinyLFU.hitRatio)")
            #expect(tinyLFU.hitRatio > lru.hitRatio, "at \(percent)%: tinyLFU \(tinyLFU.hitRatio) vs LRU \(lru.hitRatio)")
        }
    }
}
