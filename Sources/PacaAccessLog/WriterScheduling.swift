#if canImport(Glibc)
    import Glibc
#endif

/// How the writer thread is scheduled beside the event loops. On Linux it runs under
/// `SCHED_BATCH`: the same share of the CPU as any thread (it is never starved, so no record
/// waits on it longer than on a normal thread), but its wakes do not preempt the thread that is
/// running. A loop that wakes the writer (its shard or ring is full enough) therefore goes on
/// with its turn, and the answers that turn has queued leave before the writer formats a line;
/// the writer runs when the loop waits for its sockets, or when the loop's slice is up. Under a
/// normal policy, each wake preempted the loop in the middle of its turn on a core the two
/// share (`bench/README.md`, fifteenth session). No privilege is needed to take it.
enum WriterScheduling {
    /// Linux's `SCHED_BATCH` (Glibc declares it only with `_GNU_SOURCE`).
    static let batchPolicy: Int32 = 3

    /// Puts the calling thread under `SCHED_BATCH`; returns whether it took (false off Linux).
    @discardableResult
    static func enterBatch() -> Bool {
        #if os(Linux)
            var parameters = sched_param()
            parameters.sched_priority = 0
            return sched_setscheduler(0, batchPolicy, &parameters) == 0
        #else
            return false
        #endif
    }

    /// The calling thread's scheduling policy (-1 off Linux).
    static var currentPolicy: Int32 {
        #if os(Linux)
            return sched_getscheduler(0)
        #else
            return -1
        #endif
    }
}
