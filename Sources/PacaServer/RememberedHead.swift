import NIOHTTP1
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The last head a connection's fast path read, with its bytes. A client on a kept-alive
/// connection often sends the same head again (a poller, a health check, an API client asking
/// for one resource, a load generator): bytes that start with the same head are that head, as
/// the strict check is a function of a head's bytes alone and ends at its first empty line. Such
/// a head is taken as it was, after a comparison of its bytes, not checked and built again
/// (about 3,200 instructions and two allocations per 1 KiB hit, measured with callgrind: the
/// scan, the strings of its target and fields, the field array and the head's storage).
///
/// Heads up to `maximumBytes` are remembered, so a connection holds at most that much here.
struct RememberedHead {
    static let maximumBytes = 512

    let bytes: [UInt8]
    let head: HTTPRequestHead
    let keepAlive: Bool
    /// This head's number, never 0: requests with the same serial have the same head
    /// (`ProxyRequest.headSerial`), so the access log can take their method, host and target as
    /// read once. No other connection's head has it, and no other head of this connection
    /// within 16 million heads of it (`RememberedHead.serial(connection:head:)`).
    let serial: UInt64

    private static let nextConnection = Atomic<UInt64>(1)

    /// A number for a connection, never 0 and never given to another: taken once per connection,
    /// so that numbering its heads (`serial(connection:head:)`) touches no memory another event
    /// loop writes.
    static func connectionNumber() -> UInt64 {
        nextConnection.add(1, ordering: .relaxed).oldValue
    }

    /// The serial of a connection's `head`th remembered head: the connection's number above 24
    /// bits of the count. A connection that remembers more than 16 million heads numbers them
    /// again from 0; two heads of one connection with one serial are then 16 million heads
    /// apart, and the log never holds a record that long (`AccessLogShard`).
    static func serial(connection: UInt64, head: UInt64) -> UInt64 {
        connection << 24 | head & 0xFF_FFFF
    }

    /// Remembers `head`, read from `bytes` (the whole head), as `serial` (0: none); `nil` when
    /// it is too large to keep.
    init?(_ bytes: UnsafeRawBufferPointer, head: HTTPRequestHead, keepAlive: Bool, serial: UInt64 = 0) {
        guard bytes.count <= Self.maximumBytes else { return nil }
        self.bytes = Array(bytes)
        self.head = head
        self.keepAlive = keepAlive
        self.serial = serial
    }

    /// Whether `buffer` starts with this head's bytes.
    @inline(__always)
    func begins(_ buffer: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard buffer.count >= count, let start = buffer.baseAddress else { return false }
        return bytes.withUnsafeBytes { memcmp(start, $0.baseAddress!, count) == 0 }
    }
}
