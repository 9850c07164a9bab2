import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the writer thread sets up for itself when it starts: its name, and how it is scheduled
/// beside the event loops.
///
/// On Linux it runs under `SCHED_BATCH`: the same share of the CPU as any thread (it is never
/// starved, so no record waits on it longer than on a normal thread), but its wakes do not
/// preempt the thread that is running. A loop that wakes the writer (its shard or ring is full
/// enough) therefore goes on with its turn, and the answers that turn has queued leave before the
/// writer formats a line; the writer runs when the loop waits for its sockets, or when the loop's
/// slice is up. Under a normal policy, each wake preempted the loop in the middle of its turn on
/// a core the two share (`bench/README.md`, fifteenth session). No privilege is needed to take it.
enum WriterThread {
    /// The name `ps -L` and `top -H` show (at most 15 bytes on Linux).
    static let name = "paca-accesslog"

    /// Linux's `SCHED_BATCH` (Glibc declares it only with `_GNU_SOURCE`).
    static let batchPolicy: Int32 = 3

    /// Names the calling thread and puts it under `SCHED_BATCH`; returns whether the policy took
    /// (false off Linux).
    @discardableResult
    static func prepareCurrent() -> Bool {
        #if os(Linux)
            Thread.current.name = name
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

    /// The calling thread's name as the kernel has it ("" off Linux).
    static var currentName: String {
        #if os(Linux)
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            return comm.hasSuffix("\n") ? String(comm.dropLast()) : comm
        #else
            return ""
        #endif
    }
}
