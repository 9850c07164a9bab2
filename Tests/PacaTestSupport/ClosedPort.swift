#if canImport(Glibc)
    import Glibc
#endif

/// A loopback TCP port that is bound but never listens, so every connection to it is refused,
/// and no other test can take it while this object lives.
public final class ClosedPort: @unchecked Sendable {
    // Immutable after init.
    private let descriptor: Int32
    /// The port.
    public let port: Int

    /// Binds 127.0.0.1:0 without listening.
    public init() {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        var bound = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: bound.sin_port))
    }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    deinit {
        close(descriptor)
    }
}
