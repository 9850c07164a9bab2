public import NIOCore
import PacaHTTPCaching

/// How an encoded entry's body is stored.
public enum BodyEncoding: UInt8, Sendable {
    /// The body as the client receives it without `Content-Encoding` changes.
    case identity = 0
    /// The body gzip-compressed at rest (the L2 tier compresses large bodies).
    case gzip = 1
}

/// Why bytes could not be decoded into an entry. Every malformed input maps to one of these;
/// the decoder never traps.
public enum EntryCodecError: Error, Sendable, Equatable {
    /// Fewer bytes than the header announces (a short read or a torn file).
    case truncated
    /// The bytes do not start with `PACA`.
    case badMagic
    /// Written by a newer (or unknown) format version.
    case unsupportedVersion(UInt8)
    /// The CRC-32C over header and body does not match.
    case checksumMismatch
    /// The entry is valid but belongs to another key (a hash collision or a misplaced file).
    case keyMismatch
    /// Lengths or fields are inconsistent although the checksum matched, or trailing bytes follow.
    case malformed
    /// A sealed entry whose key this reader does not hold: no sealer, or another key id (a
    /// rotated key, another node's key). A miss, not damage.
    case keyUnavailable(keyID: String)
    /// A sealed entry that does not open with the key of its key id: the key changed without a
    /// new id, or the bytes were tampered with (the checksum cannot tell the latter).
    case authenticationFailed
    /// `decodeHead` met a sealed entry: its clear head holds no fields and its body cannot be
    /// served from the file; decode it whole instead.
    case sealed
}

/// An entry as decoded, with its body exactly as stored.
public struct DecodedEntry: Sendable {
    /// The entry; its `body` is still in `bodyEncoding` (gzip bytes when `.gzip`).
    public var entry: CacheEntry
    /// How `entry.body` is encoded.
    public var bodyEncoding: BodyEncoding

    /// Creates a decoded entry.
    public init(entry: CacheEntry, bodyEncoding: BodyEncoding) {
        self.entry = entry
        self.bodyEncoding = bodyEncoding
    }
}

/// What an index needs from an encoded entry without reading or verifying its body.
public struct EntrySummary: Sendable, Equatable {
    /// The full cache key.
    public var key: String
    /// When the entry leaves storage (`EntryTiming.storageExpiry`).
    public var storageExpiry: UnixMillis
    /// When the response was requested (`fetched_at`).
    public var requestTime: UnixMillis
    /// How the body is stored.
    public var bodyEncoding: BodyEncoding
    /// Bytes of the stored body.
    public var bodyLength: Int
    /// Bytes of the whole encoding: prefix, header section, body and checksum.
    public var encodedLength: Int
}

/// The byte format entries take at rest in L2 files and L3 values.
///
/// Layout (integers big-endian):
/// ```
/// prefix (16 bytes)  "PACA" | version u8 | flags u8 | reserved u16 = 0 | headerLength u32 | bodyLength u32
/// header section     key (u32 length + UTF-8) | status u16 | field count u32 |
///                    per field: name (u32 + UTF-8), value (u32 + UTF-8) |
///                    requestTime, responseTime, correctedInitialAge, freshnessLifetime,
///                    staleWhileRevalidate, staleIfError, storageExpiry (i64 each) |
///                    etag (u32 + UTF-8, if flag) | lastModified (u32 + UTF-8, if flag)
/// body               bodyLength bytes, identity or gzip (flag)
/// checksum           CRC-32C u32 over everything before it
/// ```
/// Flags: bit 0 gzip body, bit 1 `mustRevalidate`, bit 2 `alwaysRevalidate`, bit 3 etag
/// present, bit 4 lastModified present, bit 5 sealed; other bits must be zero.
///
/// A sealed entry (`encodeSealed`, a route's `encrypt: true`) keeps in clear only what an index
/// and a sweep need: the prefix, and a header section with the key, status 0, no fields, the
/// seven times, and no validators. Its body is
/// ```
/// keyIDLength u8 | keyID (UTF-8) | sealer output over the whole plain encoding of the entry
/// ```
/// where the sealer authenticates everything before its output (prefix, clear header, key id),
/// so a sealed body cannot be moved under another key or given another expiry. The checksum
/// covers the outer bytes as usual, so damage is told from a foreign key before any opening.
public enum EntryCodec {
    /// The format version this build writes and reads.
    public static let version: UInt8 = 1

    /// Bytes of the fixed prefix that precedes the header section.
    public static let prefixLength = 16

    static let magic: (UInt8, UInt8, UInt8, UInt8) = (0x50, 0x41, 0x43, 0x41)  // "PACA"

    enum Flag {
        static let gzip: UInt8 = 1 << 0
        static let mustRevalidate: UInt8 = 1 << 1
        static let alwaysRevalidate: UInt8 = 1 << 2
        static let etag: UInt8 = 1 << 3
        static let lastModified: UInt8 = 1 << 4
        static let sealed: UInt8 = 1 << 5
        static let known: UInt8 = 0x3F
    }

    /// Serialises `entry` with its body as given; `bodyEncoding` records how that body is
    /// encoded (default identity). The result is one contiguous buffer ending in a CRC-32C.
    public static func encode(_ entry: CacheEntry, bodyEncoding: BodyEncoding = .identity) -> ByteBuffer {
        var buffer = encodeHead(
            entry, bodyLength: entry.body.readableBytes, bodyEncoding: bodyEncoding, extraCapacity: entry.body.readableBytes + 4)
        buffer.writeImmutableBuffer(entry.body)
        let crc = buffer.withUnsafeReadableBytes { CRC32C.checksum($0) }
        buffer.writeInteger(crc)
        return buffer
    }

    /// The prefix and header section of `entry`'s encoding for a body of `bodyLength` bytes that
    /// is written after it (`entry.body` is ignored): a large body is streamed to an L2 file
    /// behind this head, then the CRC-32C over head and body closes it.
    public static func encodeHead(
        _ entry: CacheEntry, bodyLength: Int, bodyEncoding: BodyEncoding = .identity, extraCapacity: Int = 0
    ) -> ByteBuffer {
        encodeHead(entry, bodyLength: bodyLength, bodyEncoding: bodyEncoding, extraCapacity: extraCapacity, extraFlags: 0)
    }

    /// The sealed encoding of `entry` (see the type's documentation): the plain encoding, with
    /// its body as given in `bodyEncoding`, sealed by `sealer` behind a clear head that names the
    /// key, its times and `sealer.keyID`. `nil` when the key id is empty or longer than 255
    /// bytes, or sealing fails; such an entry is not stored.
    public static func encodeSealed(_ entry: CacheEntry, bodyEncoding: BodyEncoding = .identity, sealer: any EntrySealer)
        -> ByteBuffer?
    {
        let keyID = Array(sealer.keyID.utf8)
        guard (1...255).contains(keyID.count) else { return nil }
        let inner = encode(entry, bodyEncoding: bodyEncoding)
        let sealedLength = inner.readableBytes + sealer.overhead
        let bodyLength = 1 + keyID.count + sealedLength
        guard bodyLength <= Int(UInt32.max) else { return nil }
        // Revalidation flags and validators stay inside; the clear head says only when the entry
        // was fetched and when it leaves storage.
        var timing = entry.timing
        timing.mustRevalidate = false
        timing.alwaysRevalidate = false
        let clear = CacheEntry(key: entry.key, status: 0, headers: [], body: ByteBuffer(), timing: timing)
        var buffer = encodeHead(
            clear, bodyLength: bodyLength, bodyEncoding: .identity, extraCapacity: bodyLength + 4, extraFlags: Flag.sealed)
        buffer.writeInteger(UInt8(keyID.count))
        buffer.writeBytes(keyID)
        guard let sealed = sealer.seal(inner, authenticating: buffer), sealed.readableBytes == sealedLength else { return nil }
        buffer.writeImmutableBuffer(sealed)
        let crc = buffer.withUnsafeReadableBytes { CRC32C.checksum($0) }
        buffer.writeInteger(crc)
        return buffer
    }

    private static func encodeHead(
        _ entry: CacheEntry, bodyLength: Int, bodyEncoding: BodyEncoding, extraCapacity: Int, extraFlags: UInt8
    ) -> ByteBuffer {
        precondition(bodyLength <= Int(UInt32.max), "body larger than 4 GiB")
        var flags: UInt8 = (bodyEncoding == .gzip ? Flag.gzip : 0) | extraFlags
        if entry.timing.mustRevalidate { flags |= Flag.mustRevalidate }
        if entry.timing.alwaysRevalidate { flags |= Flag.alwaysRevalidate }
        if entry.etag != nil { flags |= Flag.etag }
        if entry.lastModified != nil { flags |= Flag.lastModified }

        var headerLength = 4 + entry.key.utf8.count + 2 + 4 + 7 * 8
        for field in entry.headers { headerLength += 8 + field.name.utf8.count + field.value.utf8.count }
        if let etag = entry.etag { headerLength += 4 + etag.utf8.count }
        if let lastModified = entry.lastModified { headerLength += 4 + lastModified.utf8.count }

        var buffer = ByteBufferAllocator().buffer(capacity: prefixLength + headerLength + extraCapacity)
        buffer.writeBytes([magic.0, magic.1, magic.2, magic.3, version, flags, 0, 0])
        buffer.writeInteger(UInt32(headerLength))
        buffer.writeInteger(UInt32(bodyLength))

        writeString(entry.key, to: &buffer)
        buffer.writeInteger(UInt16(clamping: entry.status))
        buffer.writeInteger(UInt32(entry.headers.count))
        for field in entry.headers {
            writeString(field.name, to: &buffer)
            writeString(field.value, to: &buffer)
        }
        let timing = entry.timing
        for value in [
            timing.requestTime, timing.responseTime, timing.correctedInitialAge, timing.freshnessLifetime,
            timing.staleWhileRevalidate, timing.staleIfError, timing.storageExpiry,
        ] {
            buffer.writeInteger(value)
        }
        if let etag = entry.etag { writeString(etag, to: &buffer) }
        if let lastModified = entry.lastModified { writeString(lastModified, to: &buffer) }
        assert(buffer.readableBytes == prefixLength + headerLength)
        return buffer
    }

    /// The entry described by the head of an encoding (its first `summaryLength(prefix:)`
    /// bytes), with an empty body, and where its body lies: for serving a large body from its
    /// file without reading it into memory. Verifies the key, not the checksum. Throws `.sealed`
    /// for a sealed entry, whose body is never served from its file.
    public static func decodeHead(_ buffer: ByteBuffer, expectedKey: String?) throws(EntryCodecError) -> (
        entry: DecodedEntry, bodyOffset: Int, bodyLength: Int
    ) {
        let (flags, headerLength, bodyLength) = try readPrefix(buffer)
        guard flags & Flag.sealed == 0 else { throw .sealed }
        guard var section = buffer.getSlice(at: buffer.readerIndex + prefixLength, length: headerLength) else { throw .truncated }
        let header = try parseHeader(&section, flags: flags)
        if let expectedKey, header.key != expectedKey { throw .keyMismatch }
        let entry = CacheEntry(
            key: header.key, status: header.status, headers: header.fields, body: ByteBuffer(), timing: header.timing,
            etag: header.etag, lastModified: header.lastModified)
        return (
            DecodedEntry(entry: entry, bodyEncoding: flags & Flag.gzip != 0 ? .gzip : .identity), prefixLength + headerLength, bodyLength
        )
    }

    /// Parses and verifies `buffer`, which must hold exactly one encoding: magic, version,
    /// lengths, the CRC-32C, and — when `expectedKey` is given — the full key. The returned
    /// body is a slice of `buffer` (no copy), still in its stored encoding.
    ///
    /// A sealed entry is opened with `sealer` (default none) when its key id is `sealer.keyID`,
    /// and comes back with `encryptAtRest` set; without the right key it throws
    /// `.keyUnavailable`, and `.authenticationFailed` when it does not open.
    public static func decode(_ buffer: ByteBuffer, expectedKey: String?, sealer: (any EntrySealer)? = nil) throws(EntryCodecError)
        -> DecodedEntry
    {
        let (flags, headerLength, bodyLength) = try readPrefix(buffer)
        let total = prefixLength + headerLength + bodyLength + 4
        guard buffer.readableBytes >= total else { throw .truncated }
        guard buffer.readableBytes == total else { throw .malformed }

        let start = buffer.readerIndex
        let stored = buffer.getInteger(at: start + total - 4, as: UInt32.self)
        let computed = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(total - 4)]))
        }
        guard stored == computed else { throw .checksumMismatch }

        guard var section = buffer.getSlice(at: start + prefixLength, length: headerLength),
            let body = buffer.getSlice(at: start + prefixLength + headerLength, length: bodyLength)
        else { throw .truncated }
        let header = try parseHeader(&section, flags: flags)
        if let expectedKey, header.key != expectedKey { throw .keyMismatch }
        if flags & Flag.sealed != 0 {
            return try open(body, header: header, before: buffer.getSlice(at: start, length: prefixLength + headerLength), sealer: sealer)
        }

        let entry = CacheEntry(
            key: header.key, status: header.status, headers: header.fields, body: body, timing: header.timing,
            etag: header.etag, lastModified: header.lastModified)
        return DecodedEntry(entry: entry, bodyEncoding: flags & Flag.gzip != 0 ? .gzip : .identity)
    }

    /// Opens a sealed body: checks the key id, opens the plain encoding inside, which must be an
    /// unsealed entry of the same key.
    private static func open(_ body: ByteBuffer, header: Header, before head: ByteBuffer?, sealer: (any EntrySealer)?)
        throws(EntryCodecError) -> DecodedEntry
    {
        var body = body
        guard var authenticated = head, let count = body.readInteger(as: UInt8.self), count > 0,
            let keyIDBytes = body.readSlice(length: Int(count))
        else { throw .malformed }
        guard let keyID = keyIDBytes.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else { throw .malformed }
        guard let sealer, sealer.keyID == keyID else { throw .keyUnavailable(keyID: keyID) }
        authenticated.writeInteger(count)
        authenticated.writeImmutableBuffer(keyIDBytes)
        guard let inner = sealer.open(body, authenticating: authenticated) else { throw .authenticationFailed }
        // The inner encoding was authenticated: anything wrong with it is a writer's bug, reported
        // as malformed rather than as damage at rest.
        let decoded: DecodedEntry
        do {
            decoded = try decode(inner, expectedKey: header.key, sealer: nil)
        } catch {
            throw .malformed
        }
        let entry = decoded.entry
        return DecodedEntry(
            entry: CacheEntry(
                key: entry.key, status: entry.status, headers: entry.headers, body: entry.body, timing: entry.timing, etag: entry.etag,
                lastModified: entry.lastModified, encryptAtRest: true),
            bodyEncoding: decoded.bodyEncoding)
    }

    /// How many leading bytes `summarize(_:)` needs, read from the first `prefixLength` bytes.
    public static func summaryLength(prefix: ByteBuffer) throws(EntryCodecError) -> Int {
        let (_, headerLength, _) = try readPrefix(prefix)
        return prefixLength + headerLength
    }

    /// The key, expiry and sizes of an encoding from its first `summaryLength(prefix:)` bytes
    /// (more may follow). Does not verify the checksum: `decode` does that before any use.
    public static func summarize(_ buffer: ByteBuffer) throws(EntryCodecError) -> EntrySummary {
        let (flags, headerLength, bodyLength) = try readPrefix(buffer)
        guard var section = buffer.getSlice(at: buffer.readerIndex + prefixLength, length: headerLength) else {
            throw .truncated
        }
        let header = try parseHeader(&section, flags: flags)
        return EntrySummary(
            key: header.key, storageExpiry: header.timing.storageExpiry, requestTime: header.timing.requestTime,
            bodyEncoding: flags & Flag.gzip != 0 ? .gzip : .identity, bodyLength: bodyLength,
            encodedLength: prefixLength + headerLength + bodyLength + 4)
    }

    // MARK: - Parts

    private static func readPrefix(_ buffer: ByteBuffer) throws(EntryCodecError) -> (flags: UInt8, headerLength: Int, bodyLength: Int) {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= 4 else { throw .truncated }
        guard buffer.getInteger(at: start, as: UInt8.self) == magic.0,
            buffer.getInteger(at: start + 1, as: UInt8.self) == magic.1,
            buffer.getInteger(at: start + 2, as: UInt8.self) == magic.2,
            buffer.getInteger(at: start + 3, as: UInt8.self) == magic.3
        else { throw .badMagic }
        guard let version = buffer.getInteger(at: start + 4, as: UInt8.self) else { throw .truncated }
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard buffer.readableBytes >= prefixLength,
            let flags = buffer.getInteger(at: start + 5, as: UInt8.self),
            let reserved = buffer.getInteger(at: start + 6, as: UInt16.self),
            let headerLength = buffer.getInteger(at: start + 8, as: UInt32.self),
            let bodyLength = buffer.getInteger(at: start + 12, as: UInt32.self)
        else { throw .truncated }
        guard flags & ~Flag.known == 0, reserved == 0 else { throw .malformed }
        return (flags, Int(headerLength), Int(bodyLength))
    }

    private struct Header {
        var key: String
        var status: Int
        var fields: [HTTPField]
        var timing: EntryTiming
        var etag: String?
        var lastModified: String?
    }

    private static func parseHeader(_ section: inout ByteBuffer, flags: UInt8) throws(EntryCodecError) -> Header {
        let key = try readString(&section)
        guard let status = section.readInteger(as: UInt16.self), let count = section.readInteger(as: UInt32.self) else {
            throw .malformed
        }
        // Each field takes at least 8 bytes: a count beyond that is a lie, not a reason to allocate.
        guard Int(count) <= section.readableBytes / 8 else { throw .malformed }
        var fields: [HTTPField] = []
        fields.reserveCapacity(Int(count))
        for _ in 0..<count {
            let name = try readString(&section)
            let value = try readString(&section)
            fields.append(HTTPField(name: name, value: value))
        }
        var times: [Int64] = []
        times.reserveCapacity(7)
        for _ in 0..<7 {
            guard let value = section.readInteger(as: Int64.self) else { throw .malformed }
            times.append(value)
        }
        let timing = EntryTiming(
            requestTime: times[0], responseTime: times[1], correctedInitialAge: times[2], freshnessLifetime: times[3],
            staleWhileRevalidate: times[4], staleIfError: times[5], mustRevalidate: flags & Flag.mustRevalidate != 0,
            alwaysRevalidate: flags & Flag.alwaysRevalidate != 0, storageExpiry: times[6])
        var etag: String?
        var lastModified: String?
        if flags & Flag.etag != 0 { etag = try readString(&section) }
        if flags & Flag.lastModified != 0 { lastModified = try readString(&section) }
        guard section.readableBytes == 0 else { throw .malformed }
        return Header(key: key, status: Int(status), fields: fields, timing: timing, etag: etag, lastModified: lastModified)
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(string.utf8.count))
        buffer.writeString(string)
    }

    private static func readString(_ section: inout ByteBuffer) throws(EntryCodecError) -> String {
        guard let length = section.readInteger(as: UInt32.self), Int(length) <= section.readableBytes,
            let bytes = section.readSlice(length: Int(length))
        else { throw .malformed }
        // Strict UTF-8: a key that is not what was written must not compare equal by repair.
        guard let string = bytes.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw .malformed
        }
        return string
    }
}
