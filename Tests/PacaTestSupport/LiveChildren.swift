import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The child processes the tests started and have not seen end. A test that ends before its
/// deferred stop runs (the last test of a run, whose process exits at once) would leave them
/// behind; at exit every one still listed is killed, so a run leaves no server running.
public enum LiveChildren {
    private static let pids = Mutex<Set<Int32>>([])
    private static let installed = Mutex(false)

    /// Lists `pid`, and kills it at exit unless `remove` came first.
    public static func add(_ pid: Int32) {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if first { atexit { LiveChildren.killAll() } }
        _ = pids.withLock { $0.insert(pid) }
    }

    /// `pid` ended (or was stopped by its test).
    public static func remove(_ pid: Int32) {
        _ = pids.withLock { $0.remove(pid) }
    }

    private static func killAll() {
        for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}
