public import PacaCore

/// One request, as the access log writes it (DESIGN.md §1, "Access log").
public struct AccessLogRecord: Sendable, Equatable {
    /// How the cache answered.
    public enum CacheOutcome: String, Sendable {
        case hit, miss, stale, revalidated, bypass, pass
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
    /// Time to answer, in milliseconds (fractional).
    public var milliseconds: Double
    /// Time spent waiting on the origin, when it was asked.
    public var originMilliseconds: Double?
    /// The client (peer, or the rightmost untrusted `X-Forwarded-For` entry).
    public var client: String
    /// A refresh paca made on its own (stale-while-revalidate), not a client's request.
    public var background = false

    /// Creates a record.
    public init(
        timestamp: UnixMillis, method: String, host: String, url: String, route: String, status: Int, bytes: Int,
        cache: CacheOutcome, tier: String = "", ttl: Int? = nil, collapsed: Bool = false, key: String = "",
        milliseconds: Double, originMilliseconds: Double? = nil, client: String
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
        self.milliseconds = milliseconds
        self.originMilliseconds = originMilliseconds
        self.client = client
    }

    /// The record as one JSON object, without a trailing newline.
    public func jsonLine() -> String {
        var bytes: [UInt8] = []
        var clock = JSONText.TimestampCache()
        appendJSON(to: &bytes, timestamps: &clock)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the record as one JSON object (no newline) to `out`: the writer thread formats
    /// whole batches into one byte buffer this way, bytes written in place (no String built per
    /// field), the date part of the timestamp formatted once per second through `timestamps`.
    public func appendJSON(to out: inout [UInt8]) {
        var clock = JSONText.TimestampCache()
        appendJSON(to: &out, timestamps: &clock)
    }

    func appendJSON(to out: inout [UInt8], timestamps: inout JSONText.TimestampCache) {
        JSONText.literal(#"{"ts":""#, to: &out)
        timestamps.append(timestamp, to: &out)
        JSONText.literal(#"","method":"#, to: &out)
        JSONText.appendString(method, to: &out)
        JSONText.literal(#","host":"#, to: &out)
        JSONText.appendString(host, to: &out)
        JSONText.literal(#","url":"#, to: &out)
        JSONText.appendString(url, to: &out)
        JSONText.literal(#","route":"#, to: &out)
        JSONText.appendString(route, to: &out)
        JSONText.literal(#","status":"#, to: &out)
        JSONText.appendInteger(status, to: &out)
        JSONText.literal(#","bytes":"#, to: &out)
        JSONText.appendInteger(bytes, to: &out)
        JSONText.literal(#","cache":""#, to: &out)
        switch cache {
        case .hit: JSONText.literal("hit", to: &out)
        case .miss: JSONText.literal("miss", to: &out)
        case .stale: JSONText.literal("stale", to: &out)
        case .revalidated: JSONText.literal("revalidated", to: &out)
        case .bypass: JSONText.literal("bypass", to: &out)
        case .pass: JSONText.literal("pass", to: &out)
        }
        JSONText.literal(#"","tier":"#, to: &out)
        if tier.isEmpty { JSONText.literal("null", to: &out) } else { JSONText.appendString(tier, to: &out) }
        JSONText.literal(#","ttl":"#, to: &out)
        if let ttl { JSONText.appendInteger(ttl, to: &out) } else { JSONText.literal("null", to: &out) }
        JSONText.literal(collapsed ? #","collapsed":true,"key":"# : #","collapsed":false,"key":"#, to: &out)
        out.append(UInt8(ascii: "\""))
        if !key.isEmpty { JSONText.appendHex16(FNV1a.hash(key), to: &out) }
        out.append(UInt8(ascii: "\""))
        JSONText.literal(#","ms":"#, to: &out)
        JSONText.appendFixed3(milliseconds, to: &out)
        JSONText.literal(#","origin_ms":"#, to: &out)
        if let originMilliseconds { JSONText.appendFixed3(originMilliseconds, to: &out) } else { JSONText.literal("null", to: &out) }
        JSONText.literal(#","client":"#, to: &out)
        JSONText.appendString(client, to: &out)
        if background { JSONText.literal(#","background":true"#, to: &out) }
        out.append(UInt8(ascii: "}"))
    }
}

/// Minimal JSON text helpers, writing bytes in place (the log is formatted off the request path,
/// but on a box where the loops and the writer share cores, its cost is still hit throughput).
enum JSONText {
    /// `YYYY-MM-DDTHH:MM:SS.` for the last second formatted; the milliseconds are appended per
    /// record. Records of one flush are seconds apart at most, so it is formatted about once per
    /// second of traffic.
    struct TimestampCache {
        private var second: Int64 = .min
        private var prefix: [UInt8] = []

        mutating func append(_ millis: UnixMillis, to out: inout [UInt8]) {
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
            if seconds != second {
                second = seconds
                // "…SS.mmmZ" from the full formatter, less its "mmmZ".
                prefix = Array(RFC3339.format(millis: seconds * 1000).utf8.dropLast(4))
            }
            out.append(contentsOf: prefix)
            let ms = Int(millis - seconds * 1000)
            out.append(UInt8(ascii: "0") + UInt8(ms / 100))
            out.append(UInt8(ascii: "0") + UInt8(ms / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(ms % 10))
            out.append(UInt8(ascii: "Z"))
        }
    }

    static func literal(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            // Fast path: nothing to escape (the common case for URLs and hosts).
            if !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): literal(#"\""#, to: &out)
                case UInt8(ascii: "\\"): literal(#"\\"#, to: &out)
                case UInt8(ascii: "\n"): literal(#"\n"#, to: &out)
                case UInt8(ascii: "\r"): literal(#"\r"#, to: &out)
                case UInt8(ascii: "\t"): literal(#"\t"#, to: &out)
                case 0..<0x20:
                    literal(#"\u00"#, to: &out)
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 0xF))
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// 16 lower-case hex digits, leading zeros kept.
    static func appendHex16(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 60, through: 0, by: -4) { out.append(hexDigit(UInt8((value >> UInt64(shift)) & 0xF))) }
    }

    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(value.magnitude, to: &out)
    }

    private static func appendDigits(_ magnitude: UInt, to out: inout [UInt8]) {
        // At most 20 digits, written backwards into a fixed buffer.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var rest = magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// A number with exactly three decimals, rounded (`12.3456` → `12.346`).
    static func appendFixed3(_ value: Double, to out: inout [UInt8]) {
        let thousandths = Int64((value * 1000).rounded())
        if thousandths < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = UInt(thousandths.magnitude)
        appendDigits(magnitude / 1000, to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = magnitude % 1000
        out.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }
}
