public import NIOCore
public import PacaHTTPCaching
import Synchronization

/// The timing facts of a stored response (DESIGN.md §3, "Storage lifetime is not freshness").
/// All times are Unix milliseconds from the injected wall clock; promotion and demotion copy them
/// unchanged.
public struct EntryTiming: Sendable, Hashable {
    /// When the request that fetched this response was sent (also the entry's `fetched_at`).
    public var requestTime: UnixMillis
    /// When the response arrived.
    public var responseTime: UnixMillis
    /// RFC 9111 §4.2.3 `corrected_initial_age`.
    public var correctedInitialAge: Int64
    /// How long the response is fresh, from its generation at the origin.
    public var freshnessLifetime: Int64
    /// `stale-while-revalidate` window after freshness ends.
    public var staleWhileRevalidate: Int64
    /// `stale-if-error` window after freshness ends.
    public var staleIfError: Int64
    /// The entry must not be served stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`).
    public var mustRevalidate: Bool
    /// Every use must be revalidated first (`no-cache` in the response).
    public var alwaysRevalidate: Bool
    /// When the entry leaves the cache: freshness, stale windows and `keep` past `responseTime`.
    public var storageExpiry: UnixMillis

    /// Creates the timing facts.
    public init(
        requestTime: UnixMillis,
        responseTime: UnixMillis,
        correctedInitialAge: Int64,
        freshnessLifetime: Int64,
        staleWhileRevalidate: Int64 = 0,
        staleIfError: Int64 = 0,
        mustRevalidate: Bool = false,
        alwaysRevalidate: Bool = false,
        storageExpiry: UnixMillis
    ) {
        self.requestTime = requestTime
        self.responseTime = responseTime
        self.correctedInitialAge = correctedInitialAge
        self.freshnessLifetime = freshnessLifetime
        self.staleWhileRevalidate = staleWhileRevalidate
        self.staleIfError = staleIfError
        self.mustRevalidate = mustRevalidate
        self.alwaysRevalidate = alwaysRevalidate
        self.storageExpiry = storageExpiry
    }

    /// RFC 9111 §4.2.3 `current_age` at `now`, in milliseconds.
    public func currentAge(at now: UnixMillis) -> Int64 {
        correctedInitialAge + max(0, now - responseTime)
    }

    /// Milliseconds of freshness left at `now`; negative once stale.
    public func remainingFreshness(at now: UnixMillis) -> Int64 {
        freshnessLifetime - currentAge(at: now)
    }
}

/// A stored response: immutable once built, shared by reference between tiers and connections,
/// so a hit costs a retain, never a copy of the body.
public final class CacheEntry: Sendable {
    /// The full cache key (DESIGN.md §3).
    public let key: String
    /// The response status code.
    public let status: Int
    /// The stored header fields (hop-by-hop fields, `Set-Cookie` and the like already removed).
    public let headers: [HTTPField]
    /// `headers` pre-encoded as `Name: value\r\n` lines, written as they are on a hit; fields
    /// paca keeps for itself (`isWithheld`) are stored in `headers` but not in the block.
    public let headerBlock: ByteBuffer
    /// The body, exactly sized.
    public let body: ByteBuffer
    /// Freshness and lifetime facts.
    public let timing: EntryTiming
    /// Strong or weak entity tag, as sent, if any.
    public let etag: String?
    /// `Last-Modified`, as sent, if any.
    public let lastModified: String?
    /// L2 and L3 store this entry sealed (its route says `encrypt: true`); a tier without a
    /// sealer does not store it at all. L1 holds it in plaintext either way. Default `false`.
    public let encryptAtRest: Bool
    /// The body mirrored in memory for `sendfile`, made by the first hit that asks for it
    /// (`CacheEntry+BodyFile.swift`).
    let mirror = Mutex<BodyMirror>(.untried)
    /// `keyHash`, once a caller asked for it; 0 until then.
    private let hashOfKey = Atomic<UInt64>(0)

    /// Creates an entry; encodes `headers` into `headerBlock` once.
    public init(
        key: String,
        status: Int,
        headers: [HTTPField],
        body: ByteBuffer,
        timing: EntryTiming,
        etag: String? = nil,
        lastModified: String? = nil,
        encryptAtRest: Bool = false
    ) {
        self.key = key
        self.status = status
        self.headers = headers
        self.body = body
        self.timing = timing
        self.etag = etag
        self.lastModified = lastModified
        self.encryptAtRest = encryptAtRest
        var block = ByteBufferAllocator().buffer(capacity: headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        for field in headers where !Self.isWithheld(field.name) {
            block.writeString(field.name)
            block.writeStaticString(": ")
            block.writeString(field.value)
            block.writeStaticString("\r\n")
        }
        self.headerBlock = block
    }

    /// Whether a stored field stays inside paca: `Paca-Cache-Control`, paca's private targeted
    /// field (RFC 9213), stored so that a 304 that omits it leaves the stored directives in force
    /// (RFC 9111 §4.3.4); and `Paca-Parts`, the layout of stored 206 parts. Never written to a
    /// client.
    public static func isWithheld(_ name: String) -> Bool {
        let count = name.utf8.count
        if count == TargetedCacheControl.pacaFieldName.utf8.count { return name.lowercased() == TargetedCacheControl.pacaFieldName }
        return count == partsFieldName.utf8.count && name.lowercased() == partsFieldName
    }

    /// The FNV-1a of `key`, as the access log shows it: hashed by the first caller and kept, so
    /// a hit's log record does not hash the key again. (A key whose hash is 0 is hashed each
    /// time, and still gets the right answer.)
    public var keyHash: UInt64 {
        let known = hashOfKey.load(ordering: .relaxed)
        if known != 0 { return known }
        let hash = FNV1a.hash(key)
        hashOfKey.store(hash, ordering: .relaxed)
        return hash
    }

    /// Bytes this entry holds in memory as L1 counts them: key, header block and body
    /// capacity, plus a fixed overhead for the object and its bookkeeping.
    public var memoryCost: Int {
        key.utf8.count + headerBlock.capacity + body.capacity
            + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 } + 256
    }
}

extension CacheEntry {
    /// A copy that is stale from `now` on (a soft purge): its freshness ends at its current age,
    /// so the next use revalidates or is served stale-while-revalidate; everything else is kept.
    public func markedStale(at now: UnixMillis) -> CacheEntry {
        var timing = self.timing
        timing.freshnessLifetime = min(timing.freshnessLifetime, max(0, timing.currentAge(at: now) - 1))
        return CacheEntry(
            key: key, status: status, headers: headers, body: body, timing: timing, etag: etag, lastModified: lastModified,
            encryptAtRest: encryptAtRest)
    }
}
