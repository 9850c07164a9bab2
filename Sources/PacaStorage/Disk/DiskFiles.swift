import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An `errno` from a failed POSIX call in the L2 tier, with the call's name.
public struct DiskIOError: Error, CustomStringConvertible {
    /// The call (and path, where useful) that failed.
    public var call: String
    /// The `errno` it set.
    public var code: Int32

    /// `call: strerror (errno N)`.
    public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
    var isNotFound: Bool { code == ENOENT }
}

/// Blocking POSIX file operations for L2. Every function here blocks: callers run them on the
/// cache's thread pool, never on an event loop.
enum DiskFiles {
    /// Bytes a file occupies as nginx counts them: `max(st_size, st_blocks × 512)`.
    static func allocatedBytes(_ info: stat) -> Int {
        max(Int(info.st_size), Int(info.st_blocks) * 512)
    }

    /// Creates `path` as a directory unless it already exists.
    static func makeDirectory(_ path: String) throws(DiskIOError) {
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw DiskIOError(call: "mkdir \(path)", code: errno) }
    }

    /// Creates `path` and any missing parents (`mkdir -p`).
    static func makeDirectories(_ path: String) throws(DiskIOError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix)
        }
    }

    /// The whole file at `path` and its allocated size.
    static func read(_ path: String) throws(DiskIOError) -> (ByteBuffer, bytes: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DiskIOError(call: "open", code: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DiskIOError(call: "fstat", code: errno) }
        let size = Int(info.st_size)
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        let got = try readFully(fd, into: &buffer, count: size, offset: 0)
        // A file that shrank under us reads short; the codec reports it as truncated.
        _ = got
        return (buffer, allocatedBytes(info))
    }

    /// Up to `count` bytes from `offset` of the open file `fd`, appended to `buffer`.
    @discardableResult
    static func readFully(_ fd: Int32, into buffer: inout ByteBuffer, count: Int, offset: Int) throws(DiskIOError) -> Int {
        guard count > 0 else { return 0 }
        var failure: Int32 = 0
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var done = 0
            while done < count {
                let result = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if result > 0 {
                    done += result
                } else if result == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
            return done
        }
        if failure != 0 { throw DiskIOError(call: "pread", code: failure) }
        return got
    }

    /// Writes `bytes` to a new file at `path` (which must not exist) and returns its allocated
    /// size. On failure the partial file is removed.
    static func writeNew(_ path: String, _ bytes: ByteBuffer) throws(DiskIOError) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DiskIOError(call: "open", code: errno) }
        var failure: DiskIOError?
        bytes.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let result = write(fd, raw.baseAddress! + done, raw.count - done)
                if result >= 0 {
                    done += result
                } else if errno != EINTR {
                    failure = DiskIOError(call: "write", code: errno)
                    return
                }
            }
        }
        var info = stat()
        if failure == nil, fstat(fd, &info) != 0 { failure = DiskIOError(call: "fstat", code: errno) }
        if close(fd) != 0, failure == nil { failure = DiskIOError(call: "close", code: errno) }
        if let failure {
            unlink(path)
            throw failure
        }
        return allocatedBytes(info)
    }

    /// Renames `from` over `to` atomically.
    static func moveIntoPlace(_ from: String, _ to: String) throws(DiskIOError) {
        if rename(from, to) != 0 { throw DiskIOError(call: "rename", code: errno) }
    }

    /// Removes `path`; a missing file is not an error.
    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// The names in directory `path` other than `.` and `..`; empty when it cannot be read.
    static func names(in path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }
}
