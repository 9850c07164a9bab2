import Crypto
import Foundation
public import NIOCore
public import PacaCore

/// Why an encryption key was refused.
public enum SealingKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key id is empty or longer than 255 bytes of UTF-8.
    case badKeyID(String)
    /// The text is neither 64 hex digits nor base64 of 32 bytes.
    case notAKey(length: Int)

    /// One line for the operator; never includes the key.
    public var description: String {
        switch self {
        case .badKeyID(let id): "key id \"\(id)\" must be 1 to 255 bytes"
        case .notAKey(let length):
            "expected a 32-byte key as 64 hex digits or base64, got \(length) characters that are neither"
        }
    }
}

/// AES-256-GCM sealing of entries at rest: a fresh random 12-byte nonce per entry, the 16-byte
/// tag appended (`nonce | ciphertext | tag`, swift-crypto's combined form).
public struct AESGCMSealer: EntrySealer {
    /// The id written into every sealed entry.
    public let keyID: String
    /// Nonce and tag: 28 bytes.
    public let overhead = 12 + 16
    // swift-crypto 3 does not declare `SymmetricKey` Sendable; it is an immutable value whose
    // bytes are never written after `init`, so sharing it across threads is safe.
    nonisolated(unsafe) private let key: SymmetricKey

    /// A sealer with `key` (32 bytes: AES-256) under `keyID` (1 to 255 bytes of UTF-8).
    public init(keyID: String, key: [UInt8]) throws(SealingKeyError) {
        guard (1...255).contains(keyID.utf8.count) else { throw .badKeyID(keyID) }
        guard key.count == 32 else { throw .notAKey(length: key.count) }
        self.keyID = keyID
        self.key = SymmetricKey(data: key)
    }

    /// A sealer whose key is written as 64 hex digits or as base64 of 32 bytes (surrounding
    /// whitespace ignored), as an environment variable holds it.
    public init(keyID: String, text: String) throws(SealingKeyError) {
        guard let bytes = Self.keyBytes(text) else {
            throw .notAKey(length: text.trimmingCharacters(in: .whitespacesAndNewlines).count)
        }
        try self.init(keyID: keyID, key: bytes)
    }

    /// The 32 key bytes of `text` (64 hex digits, or base64 of 32 bytes); `nil` otherwise.
    public static func keyBytes(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.utf8.count == 64, let bytes = hexBytes(trimmed) { return bytes }
        if let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
        return nil
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }

    /// `nonce | ciphertext | tag` of `plaintext` under a random nonce, authenticating
    /// `additionalData`.
    public func seal(_ plaintext: ByteBuffer, authenticating additionalData: ByteBuffer) -> ByteBuffer? {
        let box = try? plaintext.withUnsafeReadableBytes { message in
            try additionalData.withUnsafeReadableBytes { data in
                try AES.GCM.seal(message, using: key, nonce: AES.GCM.Nonce(), authenticating: data)
            }
        }
        guard let combined = box?.combined else { return nil }
        return ByteBuffer(bytes: combined)
    }

    /// The plaintext of `sealed`, or `nil` when it does not open with this key and
    /// `additionalData`.
    public func open(_ sealed: ByteBuffer, authenticating additionalData: ByteBuffer) -> ByteBuffer? {
        guard sealed.readableBytes >= overhead else { return nil }
        let plaintext = try? sealed.withUnsafeReadableBytes { bytes in
            try additionalData.withUnsafeReadableBytes { data in
                try AES.GCM.open(AES.GCM.SealedBox(combined: bytes), using: key, authenticating: data)
            }
        }
        return plaintext.map { ByteBuffer(bytes: $0) }
    }
}
