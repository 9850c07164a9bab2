public import PacaCore

/// One request, as the access log writes it (DESIGN.md §1, "Access log").
public struct AccessLogRecord: Sendable, Equatable {
    /// How the cache answered.
    public enum CacheOutcome: String, Sendable {
        case hit, miss, stale, revalidated, bypass, pass

        /// The case of `code` (`hit` for a code of none).
        init(code: UInt8) {
            switch code {
            case 1: self = .miss
            case 2: self = .stale
            case 3: self = .revalidated
            case 4: self = .bypass
            case 5: self = .pass
            default: self = .hit
            }
        }

        /// A number for each case, below 256.
        var code: UInt8 {
            switch self {
            case .hit: 0
            case .miss: 1
            case .stale: 2
            case .revalidated: 3
            case .bypass: 4
            case .pass: 5
            }
        }
    }

    /// Request start, wall clock.
    public var timestamp: UnixMillis
    public var method: String
    public var host: String
    /// The request target as received.
    public var url: String
    /// Route name, or empty when none matched.
    public var route: String
    public var status: Int
    /// Body bytes sent.
    public var bytes: Int
    public var cache: CacheOutcome
    /// `l1`, `l2`, `l3` on a hit, else empty.
    public var tier: String
    /// Seconds of freshness left, when known.
    public var ttl: Int?
    public var collapsed: Bool
    /// The cache key, when there was one; the log shows only its hash (computed by the writer,
    /// off the request path).
    public var key: String
    /// `key`'s FNV-1a, when the caller has it at hand (a stored entry keeps its own): the writer
    /// then need not hash the key.
    public var keyHash: UInt64?
    /// Time to answer, in milliseconds (fractional).
    public var milliseconds: Double
    /// Time spent waiting on the origin, when it was asked.
    public var originMilliseconds: Double?
    /// The client (peer, or the rightmost untrusted `X-Forwarded-For` entry).
    public var client: String
    /// A refresh paca made on its own (stale-while-revalidate), not a client's request.
    public var background = false
    /// Creates a record. Inlinable: the event loop builds one per logged request, in place
    /// rather than through a call with sixteen arguments.
    @inlinable
    public init(
        timestamp: UnixMillis, method: String, host: String, url: String, route: String, status: Int, bytes: Int,
        cache: CacheOutcome, tier: String = "", ttl: Int? = nil, collapsed: Bool = false, key: String = "",
        keyHash: UInt64? = nil, milliseconds: Double, originMilliseconds: Double? = nil, client: String
    ) {
        self.timestamp = timestamp
        self.method = method
        self.host = host
        self.url = url
        self.route = route
        self.status = status
        self.bytes = bytes
        self.cache = cache
        self.tier = tier
        self.ttl = ttl
        self.collapsed = collapsed
        self.key = key
        self.keyHash = keyHash
        self.milliseconds = milliseconds
        self.originMilliseconds = originMilliseconds
        self.client = client
    }

    /// A duration of `nanoseconds` as the log's milliseconds: rounded to whole microseconds
    /// (half up), so that its three decimals are the same whether the writer formats it from
    /// this value or from the nanoseconds (`HitRing`).
    @inlinable
    public static func milliseconds(nanoseconds: Int64) -> Double {
        Double((nanoseconds + 500) / 1000) / 1000
    }

    /// The record as one JSON object, without a trailing newline.
    public func jsonLine() -> String {
        var bytes: [UInt8] = []
        appendJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the record as one JSON object (no newline) to `out`.
    public func appendJSON(to out: inout [UInt8]) {
        var timestamps = JSONLineWriter.TimestampCache()
        let line = [UInt8](unsafeUninitializedCapacity: maximumJSONBytes) { buffer, count in
            var writer = JSONLineWriter(buffer)
            write(to: &writer, timestamps: &timestamps, bound: maximumJSONBytes, newline: false)
            count = writer.count
        }
        out.append(contentsOf: line)
    }

    /// The most bytes `write(to:timestamps:)` can take for this record, with its newline: the
    /// fixed text, numbers and timestamp (under 512 bytes) and six bytes per byte of each string
    /// (an escaped control character is six).
    var maximumJSONBytes: Int {
        512 + 6 * (method.utf8.count + host.utf8.count + url.utf8.count + route.utf8.count + tier.utf8.count + client.utf8.count)
    }

    /// Writes the record as one JSON object and, with `newline`, a line feed: the writer thread
    /// formats whole batches into one buffer this way, the date part of the timestamp formatted
    /// once per second through `timestamps`. `bound` is `maximumJSONBytes`, computed once by the
    /// caller.
    func write(to out: inout JSONLineWriter, timestamps: inout JSONLineWriter.TimestampCache, bound: Int, newline: Bool = true) {
        var repeated = RepeatedStrings()
        withUnsafePointer(to: self) {
            Self.write($0, to: &out, timestamps: &timestamps, repeated: &repeated, bound: bound, newline: newline)
        }
    }

    /// `write(to:timestamps:bound:newline:)` of the record at `record`, which is read in place,
    /// its strings copied from the line before's
    /// where they repeat (`repeated`),
    /// a field at a time: a method called on an element of an array copies the whole record
    /// first (a retain and a release of each of its strings). With `repeats` (the caller found
    /// `repeated.repeatsLine`), all but the times is copied from the line before.
    static func write(
        _ record: UnsafePointer<AccessLogRecord>, to out: inout JSONLineWriter,
        timestamps: inout JSONLineWriter.TimestampCache, repeated: inout RepeatedStrings, bound: Int, newline: Bool,
        repeats: Bool = false
    ) {
        out.reserve(bound)
        out.literal(#"{"ts":""#)
        timestamps.write(record.pointee.timestamp, to: &out)
        if repeats {
            out.copyWritten(repeated.middle)
            writeDurations(record, to: &out)
            out.copyWritten(repeated.tail)
            return
        }
        let middleStart = out.count
        out.literal(#"","method":"#)
        out.string(record.pointee.method, repeating: &repeated.method)
        out.literal(#","host":"#)
        out.string(record.pointee.host, repeating: &repeated.host)
        out.literal(#","url":"#)
        out.string(record.pointee.url, repeating: &repeated.url)
        out.literal(#","route":"#)
        out.string(record.pointee.route, repeating: &repeated.route)
        out.literal(#","status":"#)
        out.integer(record.pointee.status)
        out.literal(#","bytes":"#)
        out.integer(record.pointee.bytes)
        switch record.pointee.cache {
        case .hit: out.literal(#","cache":"hit","tier":"#)
        case .miss: out.literal(#","cache":"miss","tier":"#)
        case .stale: out.literal(#","cache":"stale","tier":"#)
        case .revalidated: out.literal(#","cache":"revalidated","tier":"#)
        case .bypass: out.literal(#","cache":"bypass","tier":"#)
        case .pass: out.literal(#","cache":"pass","tier":"#)
        }
        if record.pointee.tier.isEmpty { out.literal("null") } else { out.string(record.pointee.tier, repeating: &repeated.tier) }
        out.literal(#","ttl":"#)
        if let ttl = record.pointee.ttl { out.integer(ttl) } else { out.literal("null") }
        out.literal(record.pointee.collapsed ? #","collapsed":true,"key":""# : #","collapsed":false,"key":""#)
        if let keyHash = record.pointee.keyHash {
            out.hex16(keyHash)
        } else if !record.pointee.key.isEmpty {
            out.hex16(FNV1a.hash(record.pointee.key))
        }
        let middle = RepeatedStrings.Run(offset: middleStart, length: out.count - middleStart)
        writeDurations(record, to: &out)
        let tailStart = out.count
        out.literal(#","client":"#)
        out.string(record.pointee.client, repeating: &repeated.client)
        if record.pointee.background { out.literal(#","background":true"#) }
        if newline { out.literal("}\n") } else { out.byte(UInt8(ascii: "}")) }
        repeated.shape = RepeatedStrings.Shape(record, newline: newline)
        repeated.middle = middle
        repeated.tail = RepeatedStrings.Run(offset: tailStart, length: out.count - tailStart)
    }

    /// `","ms":…,"origin_ms":…`, the part of a line between its two runs that can repeat.
    @inline(__always)
    private static func writeDurations(_ record: UnsafePointer<AccessLogRecord>, to out: inout JSONLineWriter) {
        out.literal(#"","ms":"#)
        out.fixed3(record.pointee.milliseconds)
        out.literal(#","origin_ms":"#)
        if let originMilliseconds = record.pointee.originMilliseconds { out.fixed3(originMilliseconds) } else { out.literal("null") }
    }
}
