import NIOCore

/// The flushes of one event loop's connections, put off to the end of the loop's turn: the
/// answers to every request read in one wakeup of the loop leave together, after the last of
/// them is read, instead of one by one between the reads.
///
/// On loopback, and whenever clients are local processes, a write that makes a client's socket
/// readable while the client sleeps in `epoll_wait` wakes it: a scheduler call and, on a VM, an
/// interrupt to another CPU. Written one at a time, spaced by the next connection's read and
/// answer, each answer found the client asleep again (`sock_def_readable`'s wakeup was about 5 %
/// of the server's core at 16 KiB). Written together, they find it already running.
///
/// A connection joins once per read burst with an answer to flush (`ConnectionHandler`
/// `channelReadComplete`); the loop's turn then runs its tasks, the first of which flushes them
/// all, in the order they joined. An answer waits at most for the reads and answers of the same
/// wakeup (NIO handles at most its selector's batch of events before it runs tasks).
///
/// Used on its event loop only; `@unchecked Sendable` so the server can hand each accepted
/// connection its loop's list (every method checks the loop in debug builds).
final class LoopFlushes: @unchecked Sendable {
    let eventLoop: any EventLoop
    /// The connections waiting for the flush, in the order they joined.
    private var waiting: [ConnectionHandler] = []
    /// Whether the task that flushes them is scheduled.
    private var scheduled = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Connections waiting now.
    var count: Int { waiting.count }

    /// Puts `connection`'s flush off to the end of the loop's turn.
    func add(_ connection: ConnectionHandler) {
        eventLoop.assertInEventLoop()
        waiting.append(connection)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.assumeIsolated().execute { self.flush() }
    }

    /// Flushes every connection waiting (a flush may not add another: a connection joins from
    /// its read burst only).
    func flush() {
        eventLoop.assertInEventLoop()
        scheduled = false
        var index = 0
        while index < waiting.count {
            waiting[index].deferredFlush()
            index += 1
        }
        waiting.removeAll(keepingCapacity: waiting.count <= 1024)
    }
}
