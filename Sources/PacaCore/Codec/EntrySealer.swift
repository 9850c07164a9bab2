public import NIOCore

/// Authenticated encryption of entry encodings at rest (a route's `encrypt: true`): L2 and L3
/// store such entries sealed, L1 keeps them in plaintext. `PacaSealing.AESGCMSealer` is the
/// implementation; this protocol keeps `PacaCore`, `PacaStorage` and `PacaRedis` free of the
/// crypto library.
///
/// The codec frames a sealed body as `keyID length u8 | keyID | seal(...)`, so a reader holding
/// another key (a rotated key, another node's key) sees at once that it cannot open the entry
/// and treats it as a miss.
public protocol EntrySealer: Sendable {
    /// Names the key in every sealed entry's clear header: 1 to 255 bytes of UTF-8. Rotating the
    /// key means choosing a new id, so old entries become misses rather than failed opens.
    var keyID: String { get }

    /// Bytes `seal` adds to its input (nonce and tag: 28 for AES-GCM).
    var overhead: Int { get }

    /// `plaintext` sealed under a fresh random nonce, authenticating `additionalData` too; the
    /// result is exactly `plaintext.readableBytes + overhead` bytes. `nil` when sealing fails.
    func seal(_ plaintext: ByteBuffer, authenticating additionalData: ByteBuffer) -> ByteBuffer?

    /// The plaintext of `sealed` when it was sealed with this key and `additionalData`; `nil`
    /// when it was not, or the bytes were changed.
    func open(_ sealed: ByteBuffer, authenticating additionalData: ByteBuffer) -> ByteBuffer?
}
