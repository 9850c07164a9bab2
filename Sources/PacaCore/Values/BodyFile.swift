import CMemfd
import Glibc
public import NIOCore
import Synchronization

/// A stored body mirrored in an anonymous in-memory file (`memfd_create`), so a hit can send it
/// with `sendfile(2)` and the kernel reads the pages directly instead of copying the bytes from
/// user memory into the socket (what nginx does with its cache files). Memory only: no disk is
/// touched on the event loop. The bytes of all mirrors alive together are bounded by the budget
/// given to `make` (`BodyFileBudget`); a mirror gives its share back when the last holder lets it
/// go.
public final class BodyFile: Sendable {
    /// Bytes of the body.
    public let length: Int
    private let descriptor: CInt
    private let budget: BodyFileBudget

    private init(descriptor: CInt, length: Int, budget: BodyFileBudget) {
        self.descriptor = descriptor
        self.length = length
        self.budget = budget
    }

    deinit {
        Glibc.close(descriptor)
        budget.release(length)
    }

    /// Where making a mirror stands for one body.
    public enum Outcome: Sendable {
        case made(BodyFile)
        /// The budget is spent now; another try may succeed once mirrors are let go.
        case overBudget
        /// The system refused (no memfd, no descriptors, no memory): do not try again.
        case failed
    }

    /// Copies `body` into a new in-memory file if `budget` has room for it.
    public static func make(copying body: ByteBuffer, budget: BodyFileBudget) -> Outcome {
        let length = body.readableBytes
        guard length > 0 else { return .failed }
        guard budget.reserve(length) else { return .overBudget }
        let fd = paca_memfd_create("paca-body")
        guard fd >= 0 else {
            budget.release(length)
            return .failed
        }
        let written = body.withUnsafeReadableBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
        guard written else {
            Glibc.close(fd)
            budget.release(length)
            return .failed
        }
        return .made(BodyFile(descriptor: fd, length: length, budget: budget))
    }

    /// A region of the whole body on a descriptor of its own (a `dup`), so the write outlives this
    /// mirror if it must. The caller closes `region.fileHandle` once the write completes.
    public func region() throws -> FileRegion {
        let copy = dup(descriptor)
        guard copy >= 0 else { throw IOError(errnoCode: errno, reason: "dup") }
        return FileRegion(fileHandle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy), readerIndex: 0, endIndex: length)
    }
}

/// The bytes all `BodyFile`s made against it may hold together (one per engine).
public final class BodyFileBudget: Sendable {
    /// Most bytes held at once.
    public let limit: Int
    private let held = Atomic<Int>(0)

    /// Creates a budget of `limit` bytes.
    public init(limit: Int) {
        self.limit = limit
    }

    /// Bytes held by the mirrors alive now.
    public var bytesHeld: Int { held.load(ordering: .relaxed) }

    func reserve(_ bytes: Int) -> Bool {
        guard held.add(bytes, ordering: .relaxed).newValue <= limit else {
            held.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }
}
