import CompressNIO
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a log could not be read at all (a bad line is never one of these).
public enum LogReadError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read; `errno` as text.
    case unreadable(path: String, reason: String)
    /// A `.gz` file whose compressed data is corrupt.
    case corruptGzip(path: String)
    /// No format could be recognised in the first lines.
    case unknownFormat(path: String)

    /// One line for the user.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .corruptGzip(let path): "\(path): corrupt gzip data"
        case .unknownFormat(let path): "\(path): not a paca JSON, combined, main or key-size trace log"
        }
    }
}

/// Reads a file (plain, or gzip when its name ends in `.gz`) in fixed-size chunks and hands out
/// its lines one by one, so memory stays bounded whatever the file's size: one chunk, one
/// decompressed chunk and the one line in progress (a line longer than `maxLineBytes` is handed
/// out as `nil`, a malformed line, without being held).
struct LineStream {
    static let chunkBytes = 1 << 20
    static let maxLineBytes = 1 << 20

    let path: String

    /// Calls `body` with each line (without `\n` or a trailing `\r`; `nil` for an overlong
    /// line) and its 1-based number, until the end or until `body` returns `false`.
    func forEachLine(_ body: (UnsafeBufferPointer<UInt8>?, Int) throws -> Bool) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw LogReadError.unreadable(path: path, reason: Self.errnoText()) }
        defer { close(descriptor) }
        var splitter = LineSplitter()
        var stopped = false
        func deliver(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Bool {
            try splitter.feed(bytes, maxLineBytes: Self.maxLineBytes, body)
        }
        if path.hasSuffix(".gz") {
            stopped = try Self.readGzip(descriptor: descriptor, path: path, deliver)
        } else {
            var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
            while !stopped {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard count >= 0 else { throw LogReadError.unreadable(path: path, reason: Self.errnoText()) }
                if count == 0 { break }
                stopped = try chunk.withUnsafeBufferPointer { try !deliver(UnsafeBufferPointer(rebasing: $0[0..<count])) }
            }
        }
        if !stopped { _ = try splitter.finish(body) }
    }

    /// Streams the decompressed bytes of a gzip file (several concatenated members are read as
    /// one stream, as `gzip -d` does) to `deliver`; returns whether `deliver` stopped early.
    private static func readGzip(
        descriptor: Int32, path: String, _ deliver: (UnsafeBufferPointer<UInt8>) throws -> Bool
    ) throws -> Bool {
        let decompressor = try ZlibDecompressor(algorithm: .gzip)
        let allocator = ByteBufferAllocator()
        var input = allocator.buffer(capacity: chunkBytes / 4)
        var output = allocator.buffer(capacity: chunkBytes)
        var resetWithoutProgress = false
        while true {
            if input.readableBytes == 0 {
                input.clear()
                let count = input.writeWithUnsafeMutableBytes(minimumWritableBytes: chunkBytes / 4) { buffer in
                    max(0, read(descriptor, buffer.baseAddress, buffer.count))
                }
                if count == 0 { return false }
            }
            output.clear()
            let before = input.readableBytes
            var memberEnded = false
            do {
                try decompressor.inflate(from: &input, to: &output)
                // Without an error, input left over means the member ended (Z_STREAM_END).
                memberEnded = input.readableBytes > 0
            } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                // Output full, or more input needed: progress either way, unless nothing moved.
                if output.readableBytes == 0, input.readableBytes == before, error == .bufferOverflow {
                    throw LogReadError.corruptGzip(path: path)
                }
            } catch {
                throw LogReadError.corruptGzip(path: path)
            }
            if output.readableBytes > 0 {
                let keepGoing = try output.withUnsafeReadableBytes { raw in
                    try deliver(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: raw.count))
                }
                if !keepGoing { return true }
            }
            if memberEnded {
                // A member that ended on a chunk boundary reports its end on the next call,
                // without progress; a second call without progress after a reset is garbage.
                let idle = output.readableBytes == 0 && input.readableBytes == before
                if idle && resetWithoutProgress { throw LogReadError.corruptGzip(path: path) }
                resetWithoutProgress = idle
                try decompressor.reset()
            } else {
                resetWithoutProgress = false
            }
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// Cuts a byte stream into lines across chunk boundaries; holds at most one partial line.
struct LineSplitter {
    private var partial: [UInt8] = []
    private var overlong = false
    private(set) var lineNumber = 0

    /// Hands every complete line in `bytes` to `body`; returns `false` when `body` asked to stop.
    mutating func feed(
        _ bytes: UnsafeBufferPointer<UInt8>, maxLineBytes: Int, _ body: (UnsafeBufferPointer<UInt8>?, Int) throws -> Bool
    ) throws -> Bool {
        var start = 0
        while start < bytes.count {
            guard let newline = Self.indexOfNewline(in: bytes, from: start) else {
                let rest = bytes.count - start
                if overlong || partial.count + rest > maxLineBytes {
                    overlong = true
                    partial.removeAll(keepingCapacity: true)
                } else {
                    partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
                }
                return true
            }
            lineNumber += 1
            let keepGoing: Bool
            if overlong {
                overlong = false
                keepGoing = try body(nil, lineNumber)
            } else if partial.isEmpty {
                keepGoing = try body(Self.trimmed(UnsafeBufferPointer(rebasing: bytes[start..<newline])), lineNumber)
            } else if partial.count + newline - start > maxLineBytes {
                partial.removeAll(keepingCapacity: true)
                keepGoing = try body(nil, lineNumber)
            } else {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<newline]))
                keepGoing = try partial.withUnsafeBufferPointer { try body(Self.trimmed($0), lineNumber) }
                partial.removeAll(keepingCapacity: true)
            }
            if !keepGoing { return false }
            start = newline + 1
        }
        return true
    }

    /// Hands out the last line when the stream did not end with a newline.
    mutating func finish(_ body: (UnsafeBufferPointer<UInt8>?, Int) throws -> Bool) throws -> Bool {
        guard overlong || !partial.isEmpty else { return true }
        lineNumber += 1
        defer {
            partial.removeAll()
            overlong = false
        }
        if overlong { return try body(nil, lineNumber) }
        return try partial.withUnsafeBufferPointer { try body(Self.trimmed($0), lineNumber) }
    }

    @inline(__always)
    private static func indexOfNewline(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = bytes.baseAddress, start < bytes.count else { return nil }
        guard let found = memchr(base + start, 0x0A, bytes.count - start) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always)
    private static func trimmed(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        line.last == 0x0D ? UnsafeBufferPointer(rebasing: line.dropLast()) : line
    }
}
