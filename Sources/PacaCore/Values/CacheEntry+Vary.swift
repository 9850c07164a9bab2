import NIOCore
import PacaHTTPCaching

/// Vary support (RFC 9111 §4.1): a response that varies is stored under
/// `primaryKey|v:<secondary key>`, and the primary key holds a small *marker* entry (status 0,
/// no body) naming the request fields that select a variant and the variant keys it has seen,
/// so a lookup needs at most two probes and a purge of the URL reaches every variant. Markers are
/// ordinary entries, so every tier and the codec store them unchanged.
extension CacheEntry {
    private static let namesField = "x-paca-vary-names"
    private static let variantField = "x-paca-variant"

    /// Whether this entry is a vary marker rather than a response.
    public var isVaryMarker: Bool { status == 0 }

    /// The lower-cased request field names that select a variant (markers only).
    public var varyNames: [String] {
        // As `split(separator: ",").map(String.init)`, without the intermediate array: read on
        // every hit of a varying URL.
        guard let list = headers.first(Self.namesField) else { return [] }
        var names: [String] = []
        var rest = list[...]
        while !rest.isEmpty {
            let comma = rest.utf8.firstIndex(of: UInt8(ascii: ","))
            let name = rest[..<(comma ?? rest.endIndex)]
            if !name.isEmpty { names.append(String(name)) }
            guard let comma else { break }
            rest = rest[rest.index(after: comma)...]
        }
        return names
    }

    /// The variant keys seen, oldest first (markers only).
    public var variantKeys: [String] {
        headers.values(Self.variantField)
    }

    /// A marker for `key` naming `varyNames`, listing `variantKeys`, kept until `expiry`; sealed
    /// at rest when `encryptAtRest` (as its route's variants are).
    public static func varyMarker(
        key: String, varyNames: [String], variantKeys: [String], expiry: UnixMillis, now: UnixMillis, encryptAtRest: Bool = false
    ) -> CacheEntry {
        var headers = [HTTPField(name: namesField, value: varyNames.joined(separator: ","))]
        headers.append(contentsOf: variantKeys.map { HTTPField(name: variantField, value: $0) })
        return CacheEntry(
            key: key, status: 0, headers: headers, body: ByteBuffer(),
            timing: EntryTiming(requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 0, storageExpiry: expiry),
            encryptAtRest: encryptAtRest)
    }

    /// The key of the variant of `primaryKey` selected by `secondaryKey`.
    public static func variantKey(primaryKey: String, secondaryKey: String) -> String {
        // One allocation (`a + b + c` makes an intermediate string): this runs on every hit of a
        // varying URL.
        var key = ""
        key.reserveCapacity(primaryKey.utf8.count + 3 + secondaryKey.utf8.count)
        key += primaryKey
        key += "|v:"
        key += secondaryKey
        return key
    }
}
