import CSpawn
public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process of the tests (`redis-server`, `paca`), spawned with `posix_spawn` and reaped
/// by a helper thread of its own.
///
/// Not Foundation's `Process`: on Linux it emulates close-on-exec-by-default by reading
/// `/proc/self/fd`, copying each entry's whole 256-byte name field, which runs past the end of
/// the directory buffer and crashed the test process (SIGSEGV in `Process.run`) when the test
/// run had many descriptors open. Here the child closes every descriptor from 3 up with glibc's
/// `closefrom` action, so it inherits nothing of the test process but what it is given.
///
/// A signal is sent only while the child has not been reaped, under the lock that the reaper
/// takes to record the exit: its pid cannot have been handed to another process meanwhile.
public final class ChildProcess: Sendable {
    /// How the process ended.
    public struct Exit: Sendable, Equatable {
        /// The exit status, or the signal that ended it.
        public var status: Int32
        public var bySignal: Bool

        public init(status: Int32, bySignal: Bool) {
            self.status = status
            self.bySignal = bySignal
        }
    }

    /// Why a process could not be spawned.
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    private enum Life {
        case running(waiters: [CheckedContinuation<Exit, Never>])
        case exited(Exit)
    }

    public let pid: Int32
    private let life = Mutex(Life.running(waiters: []))

    /// Spawns `path` with `arguments` (the first is argv[0]) in `directory` (default: this
    /// process's), with `extraEnvironment` (`NAME=value`) added to this process's environment.
    /// Standard input is `/dev/null`; standard output and error go to the descriptors given (they
    /// stay open here: close them after this returns), else to `/dev/null`.
    public init(
        spawning path: String, arguments: [String], directory: String? = nil, extraEnvironment: [String] = [],
        standardOutput: Int32? = nil, standardError: Int32? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let standardOutput {
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if let standardError {
            posix_spawn_file_actions_adddup2(&actions, standardError, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        guard paca_spawn_closefrom(&actions, 3) == 0 else {
            throw SpawnError(description: "posix_spawn_file_actions_addclosefrom_np failed (glibc 2.34 or later is needed)")
        }
        if let directory, paca_spawn_chdir(&actions, directory) != 0 {
            throw SpawnError(description: "posix_spawn_file_actions_addchdir_np failed for \(directory)")
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The child inherits the spawning thread's signal mask and dispositions; the test runner's
        // threads block signals, so reset both or SIGTERM would never reach the child.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        while let entry = environ[index] {
            environment.append(entry)
            index += 1
        }
        let extra = extraEnvironment.map { strdup($0) }
        defer { extra.forEach { free($0) } }
        environment.append(contentsOf: extra)
        environment.append(nil)
        var pid = pid_t()
        let status = posix_spawn(&pid, path, &actions, &attributes, &argv, &environment)
        guard status == 0 else {
            throw SpawnError(description: "cannot start \(path): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        LiveChildren.add(pid)
        Thread.detachNewThread { [self] in reap() }
    }

    /// Waits for the exit without reaping (`WNOWAIT`), records it, then reaps: until it is
    /// recorded the pid stays a zombie of ours, so `signal` never reaches another process.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        let code = info._sifields._sigchld.si_status
        let exit = Exit(status: code, bySignal: info.si_code != CLD_EXITED)
        let waiters = life.withLock { life -> [CheckedContinuation<Exit, Never>] in
            defer { life = .exited(exit) }
            if case .running(let waiters) = life { return waiters }
            return []
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        LiveChildren.remove(pid)
        for waiter in waiters { waiter.resume(returning: exit) }
    }

    /// Sends `signal` unless the process has ended.
    public func signal(_ signal: Int32) {
        life.withLock { life in
            if case .running = life { _ = kill(pid, signal) }
        }
    }

    /// Whether the process has ended.
    public func hasExited() -> Bool {
        life.withLock { life in
            if case .exited = life { return true }
            return false
        }
    }

    /// Returns how the process ended, once it has.
    @discardableResult
    public func waitForExit() async -> Exit {
        await withCheckedContinuation { (continuation: CheckedContinuation<Exit, Never>) in
            let exit = life.withLock { life -> Exit? in
                switch life {
                case .exited(let exit): return exit
                case .running(var waiters):
                    waiters.append(continuation)
                    life = .running(waiters: waiters)
                    return nil
                }
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// A pipe whose ends are closed on exec (a child gets one only through `standardOutput`
    /// or `standardError`).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [-1, -1]
        guard paca_pipe_cloexec(&descriptors) == 0 else { throw SpawnError(description: "pipe2 failed: errno \(errno)") }
        return (descriptors[0], descriptors[1])
    }

    /// Reads `descriptor` to its end on a helper thread (`read` blocks), closes it and returns
    /// what was read.
    public static func readToEnd(_ descriptor: Int32) async -> Data {
        await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
            Thread.detachNewThread {
                var data = Data()
                var buffer = [UInt8](repeating: 0, count: 16384)
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    data.append(contentsOf: buffer[0..<count])
                }
                close(descriptor)
                continuation.resume(returning: data)
            }
        }
    }
}
