import NIOCore
import PacaCore

/// Redis key names of cache keys.
extension RedisTier {
    /// The Redis key for a cache key: `<namespace>:e:` and two FNV-1a digests (the second over a
    /// length-prefixed key) so that distinct keys practically never share a slot. The full key is
    /// stored in the value and compared on read, so even a collision never serves a wrong entry.
    public func redisKey(for key: String) -> String {
        String(buffer: redisKeyBytes(for: key))
    }

    /// `redisKey(for:)` written straight into a buffer (no string built): the second digest is
    /// the first continued from the digest of `<length>|`, which FNV-1a makes equal to the
    /// digest of `<length>|<key>`.
    func redisKeyBytes(for key: String) -> ByteBuffer {
        var key = key
        return key.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            var buffer = ByteBufferAllocator().buffer(capacity: keyPrefixBytes.readableBytes + 32)
            buffer.writeImmutableBuffer(keyPrefixBytes)
            FNV1a.writeHex(FNV1a.hash(bytes, continuing: FNV1a.offsetBasis), to: &buffer)
            var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
            let lengthDigest = withUnsafeMutableBytes(of: &scratch) { scratch in
                let target = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let count = DecimalDigits.write(UInt64(bytes.count), to: target)
                target[count] = UInt8(ascii: "|")
                return FNV1a.hash(UnsafeRawBufferPointer(start: target, count: count + 1), continuing: FNV1a.offsetBasis)
            }
            FNV1a.writeHex(FNV1a.hash(bytes, continuing: lengthDigest), to: &buffer)
            return buffer
        }
    }

    static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\^-".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
