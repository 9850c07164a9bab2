import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway `redis-server` on 127.0.0.1 and a free port, with a random password, no
/// persistence and its own directory. Starting throws — with the server's own log — when
/// `redis-server` is missing or does not come up: tests that need Redis fail, never skip.
///
/// `@unchecked Sendable`: `process` is read and replaced only while `lock` is held.
///
/// The server is spawned with `posix_spawn` and reaped with `waitpid` on a helper thread:
/// Foundation's `Process.waitUntilExit` spins on a run loop off the main thread.
public final class RedisServer: @unchecked Sendable {
    /// Why a server could not be started.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The port the server listens on (kept across `restart()`).
    public let port: Int
    /// The `requirepass` password.
    public let password: String
    /// The scratch directory (`--dir`, log file); removed by `stop()`.
    public let directory: String
    private let executable: String
    private let extraArguments: [String]
    private let lock = NSLock()
    private var process: ChildProcess?

    /// `redis://:<password>@127.0.0.1:<port>/0`.
    public var url: String { "redis://:\(password)@127.0.0.1:\(port)/0" }

    /// Starts a server and returns once it answers `PING`. `password` defaults to a random one
    /// (the nodes of one cluster share theirs); `extraArguments` are passed as they are (e.g.
    /// `["--maxmemory", "1mb"]`).
    public init(password: String? = nil, extraArguments: [String] = []) async throws {
        guard let executable = Self.findExecutable() else {
            throw StartError(
                description:
                    "redis-server not found on PATH or at /usr/bin/redis-server; install it (make test does: apt-get install redis-server)")
        }
        self.executable = executable
        self.extraArguments = extraArguments
        var random = SystemRandomNumberGenerator()
        self.password = password ?? (0..<4).map { _ in String(random.next() as UInt64, radix: 16) }.joined()
        do {
            self.directory = try LiveChildren.makeDirectory("paca-redis-")
        } catch {
            throw StartError(description: "cannot create a temporary directory for redis-server: \(error)")
        }
        // A port found free can be taken by someone else before redis-server binds it: try a few.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try Self.freePort()
            do {
                let process = try await Self.launch(
                    executable: executable, port: port, password: self.password, directory: directory, extraArguments: extraArguments)
                self.port = port
                self.process = process
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? StartError(description: "redis-server did not start")
    }

    /// A test that ends without `stop()` (a failed expectation that threw) still leaves no
    /// server and no directory behind.
    deinit {
        process?.signal(SIGKILL)
        LiveChildren.removeDirectory(directory)
    }

    /// Stops the server (SIGTERM), waits for it to exit and removes its directory.
    public func stop() async {
        await signal(SIGTERM)
        LiveChildren.removeDirectory(directory)
    }

    /// Kills the server at once (SIGKILL), as a crash would, and waits for it to be gone.
    public func kill() async {
        await signal(SIGKILL)
    }

    /// Freezes the server (SIGSTOP): connections are still accepted by the kernel but nothing is
    /// answered, as with a server stuck in a long command. `resume()` undoes it.
    public func pause() {
        lock.withLock { process?.signal(SIGSTOP) }
    }

    /// Lets a paused server run again (SIGCONT).
    public func resume() {
        lock.withLock { process?.signal(SIGCONT) }
    }

    /// Starts the server again on the same port, with the same password, empty.
    public func restart() async throws {
        await signal(SIGKILL)
        let process = try await Self.launch(
            executable: executable, port: port, password: password, directory: directory, extraArguments: extraArguments)
        lock.withLock { self.process = process }
    }

    private func signal(_ signal: Int32) async {
        let process: ChildProcess? = lock.withLock {
            defer { self.process = nil }
            return self.process
        }
        guard let process else { return }
        process.signal(signal)
        await process.waitForExit()
    }

    // MARK: - Starting

    private static func findExecutable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func launch(executable: String, port: Int, password: String, directory: String, extraArguments: [String]) async throws
        -> ChildProcess
    {
        let logFile = "\(directory)/redis-\(port).log"
        let arguments =
            [
                executable, "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no",
                "--dir", directory, "--logfile", logFile, "--daemonize", "no",
            ] + extraArguments
        // Readiness is an event: started as a systemd-supervised service, redis-server sends
        // READY=1 to $NOTIFY_SOCKET once it accepts connections; a helper thread waits for it
        // (bounded at 10 s for a loaded CI machine).
        let notifyPath = "\(directory)/notify-\(port).sock"
        let notify = try NotifySocket(path: notifyPath)
        let process = try ChildProcess(
            spawning: executable, arguments: arguments + ["--supervised", "systemd"],
            extraEnvironment: ["NOTIFY_SOCKET=\(notifyPath)"])
        if await notify.waitForReady(timeoutSeconds: 10), ping(port: port) {
            return process
        }
        process.signal(SIGKILL)
        await process.waitForExit()
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "(no log)"
        let tail = log.split(separator: "\n").suffix(5).joined(separator: "\n")
        throw StartError(description: "redis-server on port \(port) was not ready within 10 s; its log ends:\n\(tail)")
    }

    /// A port the kernel just handed out for 127.0.0.1 and that is free again.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw StartError(description: "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// Whether something on `port` answers `PING` like Redis (`+PONG`, or `-NOAUTH` before AUTH).
    private static func ping(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: UInt16(port))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let request = Array("PING\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &reply, reply.count)
        guard count > 0 else { return false }
        let text = String(decoding: reply[0..<count], as: UTF8.self)
        return text.hasPrefix("+PONG") || text.hasPrefix("-NOAUTH")
    }
}

/// A Unix datagram socket for the sd_notify protocol: the child writes `READY=1` to it.
private final class NotifySocket: @unchecked Sendable {
    // `descriptor` is immutable; the socket is read by one helper thread at a time.
    private let descriptor: Int32
    private let path: String

    init(path: String) throws {
        unlink(path)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw RedisServer.StartError(description: "socket(AF_UNIX) failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw RedisServer.StartError(description: "notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw RedisServer.StartError(description: "bind(\(path)) failed: errno \(errno)")
        }
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// Waits on a helper thread (recv blocks) for a datagram containing `READY=1`; `false` on
    /// timeout or error.
    func waitForReady(timeoutSeconds: Int) async -> Bool {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = recv(descriptor, &buffer, buffer.count, 0)
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { return continuation.resume(returning: false) }
                    if String(decoding: buffer[..<count], as: UTF8.self).contains("READY=1") {
                        return continuation.resume(returning: true)
                    }
                }
            }
        }
    }
}
