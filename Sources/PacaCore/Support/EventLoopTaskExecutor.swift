public import NIOCore
import Synchronization

/// A Swift task executor that runs jobs on one NIO event loop.
///
/// A task started with this executor as its preference (`Task(executorPreference:)`) runs its
/// nonisolated code on the loop, and resumes there after an `await`. A future completed on the
/// same loop (a reply read by a connection of that loop) therefore resumes the task in the same
/// loop tick: no wake-up of a thread of the cooperative pool, and no hop back to the loop when the
/// result is used. Jobs enqueued from the loop itself never wake its selector (NIO's `execute`).
///
/// Code run this way must not block: it runs between the loop's I/O events.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the jobs run on.
    public let eventLoop: any EventLoop

    /// An executor for `eventLoop`.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on the loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { [self] in
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// One `EventLoopTaskExecutor` per event loop, made on first use, for at most `maxLoops` loops
/// (a server has one per core); past that, callers get nil and run their tasks on the pool.
public final class EventLoopTaskExecutors: Sendable {
    /// Loops that get an executor.
    public static let maxLoops = 64

    private let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    /// An empty registry.
    public init() {}

    /// The executor of `eventLoop`; nil past `maxLoops`.
    public func executor(for eventLoop: any EventLoop) -> EventLoopTaskExecutor? {
        let id = ObjectIdentifier(eventLoop)
        return executors.withLock { executors in
            if let known = executors[id] { return known }
            guard executors.count < Self.maxLoops else { return nil }
            let made = EventLoopTaskExecutor(eventLoop)
            executors[id] = made
            return made
        }
    }
}
