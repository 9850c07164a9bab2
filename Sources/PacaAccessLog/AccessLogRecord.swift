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
        appendJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the record as one JSON object (no newline) to `out`: the writer thread formats
    /// whole batches into one byte buffer this way.
    public func appendJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"ts":""#.utf8)
        out.append(contentsOf: RFC3339.format(millis: timestamp).utf8)
        out.append(contentsOf: #"","method":"#.utf8)
        JSONText.appendString(method, to: &out)
        out.append(contentsOf: #","host":"#.utf8)
        JSONText.appendString(host, to: &out)
        out.append(contentsOf: #","url":"#.utf8)
        JSONText.appendString(url, to: &out)
        out.append(contentsOf: #","route":"#.utf8)
        JSONText.appendString(route, to: &out)
        out.append(contentsOf: #","status":"#.utf8)
        JSONText.appendInteger(status, to: &out)
        out.append(contentsOf: #","bytes":"#.utf8)
        JSONText.appendInteger(bytes, to: &out)
        out.append(contentsOf: #","cache":""#.utf8)
        out.append(contentsOf: cache.rawValue.utf8)
        out.append(contentsOf: #"","tier":"#.utf8)
        if tier.isEmpty { out.append(contentsOf: "null".utf8) } else { JSONText.appendString(tier, to: &out) }
        out.append(contentsOf: #","ttl":"#.utf8)
        if let ttl { JSONText.appendInteger(ttl, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: (collapsed ? #","collapsed":true,"key":"# : #","collapsed":false,"key":"#).utf8)
        JSONText.appendString(key.isEmpty ? "" : FNV1a.hex(key), to: &out)
        out.append(contentsOf: #","ms":"#.utf8)
        out.append(contentsOf: JSONText.fixed3(milliseconds).utf8)
        out.append(contentsOf: #","origin_ms":"#.utf8)
        out.append(contentsOf: (originMilliseconds.map(JSONText.fixed3) ?? "null").utf8)
        out.append(contentsOf: #","client":"#.utf8)
        JSONText.appendString(client, to: &out)
        if background { out.append(contentsOf: #","background":true"#.utf8) }
        out.append(UInt8(ascii: "}"))
    }
}

/// Minimal JSON text helpers (the log is written far from the hot path, but without Foundation).
enum JSONText {
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
                case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: #"\u00"#.utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    static func fixed3(_ value: Double) -> String {
        let thousandths = Int64((value * 1000).rounded())
        let magnitude = thousandths.magnitude
        let digits = String(magnitude % 1000)
        return "\(thousandths < 0 ? "-" : "")\(magnitude / 1000).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
    }
}
