import Glibc

/// Blocking writes of whole buffers to a descriptor (a file, a memfd), for threads that may
/// block: never an event loop on a socket.
public enum DescriptorWrite {
    /// Writes every byte of `bytes` to `descriptor`; a short write or `EINTR` continues. Throws
    /// the `errno` of the first failed write (a write of nothing counts as `EIO`).
    public static func all(_ bytes: UnsafeRawBufferPointer, to descriptor: CInt) throws(DescriptorWriteError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                throw DescriptorWriteError(code: written < 0 ? errno : EIO)
            }
        }
    }
}

/// A failed `write(2)`: its `errno`.
public struct DescriptorWriteError: Error, CustomStringConvertible {
    public let code: CInt
    public var description: String { "write failed: \(String(cString: strerror(code)))" }
}
