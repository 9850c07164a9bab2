import CMemfd
import Glibc
public import NIOCore
import Synchronization

/// A stored body mirrored in an anonymous in-memory file (`memfd_create`), so a hit can send it
/// with `sendfile(2)` and the kernel reads the pages directly instead of copying the bytes from
/// user memory into the socket (what nginx does with its cache files). Memory only: no disk is
/// touched on the event loop. The mirrors alive together are bounded in bytes and in number by
/// their `BodyFileBudget`, which takes the mirror of a body not sent lately back when room is
/// needed; a mirror gives its share back when the last holder lets it go.
public final class BodyFile: Sendable {
    /// Bytes of the body.
    public let length: Int
    private let descriptor: CInt
    private let budget: BodyFileBudget
    /// One handle on the file per event loop that sent it, made by its first send: NIO lets a
    /// handle be used by one thread at a time, and one loop's writes never overlap. At most one
    /// descriptor per loop, whatever the number of connections, closed with the mirror.
    private let handles = Mutex<[(loop: ObjectIdentifier, handle: NIOFileHandle)]>([])
    /// Sent since the budget's clock hand last passed (set on every send).
    let referenced = Atomic<Bool>(false)

    private init(descriptor: CInt, length: Int, budget: BodyFileBudget) {
        self.descriptor = descriptor
        self.length = length
        self.budget = budget
    }

    deinit {
        for entry in handles.withLock({ $0 }) { try? entry.handle.close() }
        Glibc.close(descriptor)
        budget.release(length)
    }

    /// Where making a mirror stands for one body.
    enum Outcome: Sendable {
        case made(BodyFile)
        /// The budget has no room now, even after taking back mirrors not sent lately.
        case overBudget
        /// The system refused (no memfd, no descriptors, no memory): do not try again.
        case failed
    }

    /// Copies `body` into a new in-memory file if `budget` has room for it.
    static func make(copying body: ByteBuffer, budget: BodyFileBudget) -> Outcome {
        let length = body.readableBytes
        guard length > 0 else { return .failed }
        guard budget.reserve(length) else { return .overBudget }
        let fd = paca_memfd_create("paca-body")
        guard fd >= 0 else {
            budget.release(length)
            return .failed
        }
        let written = body.withUnsafeReadableBytes { bytes -> Bool in
            (try? DescriptorWrite.all(bytes, to: fd)) != nil
        }
        guard written else {
            Glibc.close(fd)
            budget.release(length)
            return .failed
        }
        return .made(BodyFile(descriptor: fd, length: length, budget: budget))
    }

    /// A region of the whole body to write on `loop`, through that loop's handle; `nil` when no
    /// descriptor is left (the body is then written from memory). The caller keeps this mirror
    /// alive until the write completes: the handle closes with it.
    public func region(on loop: any EventLoop) -> FileRegion? {
        referenced.store(true, ordering: .relaxed)
        let id = ObjectIdentifier(loop)
        let handle = handles.withLock { handles -> NIOFileHandle? in
            if let found = handles.first(where: { $0.loop == id }) { return found.handle }
            let copy = dup(descriptor)
            guard copy >= 0 else { return nil }
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy)
            handles.append((id, handle))
            return handle
        }
        return handle.map { FileRegion(fileHandle: $0, readerIndex: 0, endIndex: length) }
    }

    /// Descriptors this mirror holds open: its own and one per loop that sent it.
    public var descriptorCount: Int { 1 + handles.withLock { $0.count } }
}
