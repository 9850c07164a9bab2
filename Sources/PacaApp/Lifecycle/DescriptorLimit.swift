import Glibc

/// The process's limit on open descriptors (`RLIMIT_NOFILE`). Every client connection, origin
/// transfer, Redis connection, L2 file and `sendfile` mirror takes one; many systems start a
/// process at a soft limit of 1024, far below `server.max_connections`' default of 10,000.
public enum DescriptorLimit {
    /// The soft limit now (`Int.max` when unlimited).
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one (at most `ceiling`), as nginx's
    /// `worker_rlimit_nofile` or Go's runtime do. Returns the limit before and after; they are
    /// equal when it was already there or the system refused.
    @discardableResult
    public static func raiseToHard(ceiling: Int = 1 << 20) -> (before: Int, after: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (current, current) }
        let before = limit.rlim_cur
        let target = min(limit.rlim_max, rlim_t(ceiling))
        guard before != rlim_t.max, target > before else { return (current, current) }
        limit.rlim_cur = target
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (current, current) }
        return (Int(before), current)
    }
}
