import NIOCore
import PacaCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One request of a cache trace: the key asked for and the size of the body the origin sends.
public struct TraceRequest: Sendable, Hashable {
    /// The cache key.
    public var key: String
    /// Body bytes of the response stored on a miss.
    public var bodyBytes: Int

    /// Creates a request.
    public init(key: String, bodyBytes: Int) {
        self.key = key
        self.bodyBytes = bodyBytes
    }
}

/// Deterministic synthetic traces for what-if runs, tests and benchmarks: the same arguments
/// always give the same trace, on every machine.
public enum SyntheticTrace {
    /// `length` requests: with probability `scanFraction` the next never-repeated scan key
    /// (a one-hit wonder), otherwise a key drawn from Zipf(`exponent`) over `keys` popular keys.
    /// Each key's body size is drawn once, uniformly from `bodyBytes`.
    /// - Parameters:
    ///   - exponent: default 0.9, typical of web traffic.
    ///   - scanFraction: default 0.2.
    ///   - bodyBytes: default 256...4096.
    public static func zipfWithScans(
        keys: Int, exponent: Double = 0.9, scanFraction: Double = 0.2, length: Int,
        bodyBytes: ClosedRange<Int> = 256...4096, seed: UInt64
    ) -> [TraceRequest] {
        precondition(keys > 0 && length >= 0 && (0...1).contains(scanFraction))
        // cumulative[i] = P(rank <= i), ranks from 0 (most popular).
        var cumulative = [Double](repeating: 0, count: keys)
        var total = 0.0
        for rank in 0..<keys {
            total += 1 / pow(Double(rank + 1), exponent)
            cumulative[rank] = total
        }
        var random = SplitMix64(seed: seed)
        let span = UInt64(bodyBytes.count)
        func size(_ id: UInt64) -> Int {
            var sizer = SplitMix64(seed: seed ^ id)
            return bodyBytes.lowerBound + Int(sizer.next() % span)
        }
        var trace: [TraceRequest] = []
        trace.reserveCapacity(length)
        var scans: UInt64 = 0
        for _ in 0..<length {
            if Double.random(in: 0..<1, using: &random) < scanFraction {
                scans += 1
                trace.append(TraceRequest(key: "v1|http://sim|/scan/\(scans)|f", bodyBytes: size(scans | 1 << 63)))
            } else {
                let target = Double.random(in: 0..<1, using: &random) * total
                var low = 0
                var high = keys - 1
                while low < high {
                    let middle = (low + high) / 2
                    if cumulative[middle] < target { low = middle + 1 } else { high = middle }
                }
                trace.append(TraceRequest(key: "v1|http://sim|/item/\(low)|f", bodyBytes: size(UInt64(low))))
            }
        }
        return trace
    }
}

/// Replays a trace against a `MemoryCache` as the proxy would use it: a `get` per request and an
/// `insert` of the response on each miss.
public enum TraceReplay {
    /// What a replay counted.
    public struct Result: Sendable, Equatable {
        /// Requests replayed.
        public var requests: Int
        /// Requests answered from the cache.
        public var hits: Int
        /// `hits / requests` (0 for an empty trace).
        public var hitRatio: Double { requests == 0 ? 0 : Double(hits) / Double(requests) }
    }

    /// Replays `trace` on `cache`; entries never expire.
    public static func run(_ trace: [TraceRequest], on cache: MemoryCache) -> Result {
        let bodies = ByteBuffer(repeating: 0x61, count: trace.lazy.map(\.bodyBytes).max() ?? 0)
        var hits = 0
        for request in trace {
            if cache.get(request.key, now: 0) != nil {
                hits += 1
            } else {
                cache.insert(entry(for: request, bodies: bodies))
            }
        }
        return Result(requests: trace.count, hits: hits)
    }

    /// The bytes `MemoryCache` would count for every distinct key of `trace` at once: the budget
    /// at which only first requests miss.
    public static func distinctBytes(of trace: [TraceRequest]) -> Int {
        let bodies = ByteBuffer(repeating: 0x61, count: trace.lazy.map(\.bodyBytes).max() ?? 0)
        var seen: Set<String> = []
        var bytes = 0
        for request in trace where seen.insert(request.key).inserted {
            bytes += entry(for: request, bodies: bodies).memoryCost
        }
        return bytes
    }

    /// An entry whose body is a slice of `bodies`: it counts `bodyBytes` of capacity without a
    /// buffer of its own.
    private static func entry(for request: TraceRequest, bodies: ByteBuffer) -> CacheEntry {
        let timing = EntryTiming(
            requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: .max)
        return CacheEntry(
            key: request.key, status: 200, headers: [], body: bodies.getSlice(at: 0, length: request.bodyBytes)!, timing: timing)
    }
}

/// Steele, Lea and Flood's SplitMix64: small, fast and the same on every platform, unlike
/// `SystemRandomNumberGenerator`.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
