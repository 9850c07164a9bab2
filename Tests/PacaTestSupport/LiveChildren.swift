import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The child processes the tests started and have not seen end, and the scratch directories
/// they made. A test that ends before its deferred stop runs (the last test of a run, whose
/// process exits at once) would leave them behind; at exit every child still listed is killed
/// and waited for, then every directory still listed is removed, so a run leaves no server
/// running and nothing in the temporary directory.
public enum LiveChildren {
    private static let pids = Mutex<Set<Int32>>([])
    private static let directories = Mutex<Set<String>>([])
    private static let installed = Mutex(false)

    /// Lists `pid`, and kills it at exit unless `remove` came first.
    public static func add(_ pid: Int32) {
        installExitHook()
        _ = pids.withLock { $0.insert(pid) }
    }

    /// `pid` ended (or was stopped by its test).
    public static func remove(_ pid: Int32) {
        _ = pids.withLock { $0.remove(pid) }
    }

    /// A new empty directory under the system temporary directory, named `prefix` and six
    /// random characters (`mkdtemp`), removed at exit unless `removeDirectory` came first.
    public static func makeDirectory(_ prefix: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + prefix + "XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "mkdtemp \(prefix): errno \(errno)"])
        }
        let path = String(cString: made)
        listDirectory(path)
        return path
    }

    /// Lists `path` (a scratch directory a test made) for removal at exit.
    public static func listDirectory(_ path: String) {
        installExitHook()
        _ = directories.withLock { $0.insert(path) }
    }

    /// Removes the scratch directory at `path`, and its contents, now.
    public static func removeDirectory(_ path: String) {
        _ = directories.withLock { $0.remove(path) }
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func installExitHook() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if first { atexit { LiveChildren.cleanUp() } }
    }

    private static func cleanUp() {
        let children = pids.withLock { $0 }
        for pid in children { kill(pid, SIGKILL) }
        // A killed server writes nothing more once it is gone: wait before removing its files
        // (without reaping; a reaper thread may have reaped it already, and then this returns).
        for pid in children {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        }
        for path in directories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
