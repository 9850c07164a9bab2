import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The connections to one Redis server: a fixed set of worker threads, each owning one blocking
/// `RedisConnection`, fed from one shared queue (for arbitrary work such as a sweep), and one or
/// two `RedisPipeline`s for plain commands (`pipeline(_:)`: the gets and sets of the tier), which
/// many callers share at once.
///
/// A Redis round trip blocks only a worker or pipeline thread: callers `await` a continuation
/// that the thread resumes, so neither an event loop nor the cooperative pool ever waits on a
/// socket.
final class RedisConnectionPool: Sendable {
    /// A unit of work: `run` on a worker with its connection, or `cancel` if it never gets one.
    struct Job: Sendable {
        let run: @Sendable (RedisConnection) -> Void
        let cancel: @Sendable (RedisError) -> Void
    }

    private let queue: JobQueue
    private let exits: ExitLatch
    private let workerCount: Int
    private let pipelines: [RedisPipeline]
    private let nextPipeline = Atomic<Int>(0)

    /// Starts `size` worker threads. `onConnect` runs on a worker after each successful connect
    /// (AUTH and SELECT done) and may issue commands on that connection.
    init(url: RedisURL, size: Int, timeout: Duration, maxQueuedJobs: Int, onConnect: @escaping @Sendable (RedisConnection) -> Void) {
        self.queue = JobQueue(limit: maxQueuedJobs)
        self.workerCount = size
        self.exits = ExitLatch()
        self.pipelines = (0..<min(2, max(1, size))).map { _ in
            RedisPipeline(url: url, timeout: timeout, maxQueued: maxQueuedJobs, onConnect: onConnect)
        }
        for _ in 0..<size {
            let queue = self.queue
            let exits = self.exits
            Self.startThread {
                let connection = RedisConnection(url: url, timeout: timeout, onConnect: onConnect)
                while let job = queue.next() {
                    job.run(connection)
                }
                connection.disconnect()
                let waiters = exits.state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    state.exited += 1
                    guard state.exited == size else { return [] }
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
        }
    }

    deinit {
        queue.close()
        for pipeline in pipelines { pipeline.close() }
    }

    /// Sends `commands` in one write on a shared pipelined connection and returns their replies
    /// in order: on the first connection with nothing in flight (so one caller at a time always
    /// uses the same connection, whose thread stays warm), else the connections take turns.
    func pipeline(_ commands: [[ByteBuffer]]) async throws(RedisError) -> [RedisReply] {
        try await choosePipeline().run(commands)
    }

    private func choosePipeline() -> RedisPipeline {
        if let idle = pipelines.first(where: { $0.inflightRequests == 0 }) { return idle }
        let turn = nextPipeline.wrappingAdd(1, ordering: .relaxed).oldValue
        return pipelines[turn % pipelines.count]
    }

    /// Runs `body` on a worker's connection and returns its result.
    func run<Value: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> Value) async throws(RedisError)
        -> Value
    {
        let result: Result<Value, RedisError> = await withCheckedContinuation { continuation in
            let job = Job(
                run: { connection in
                    do throws(RedisError) {
                        continuation.resume(returning: .success(try body(connection)))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                },
                cancel: { error in continuation.resume(returning: .failure(error)) })
            queue.submit(job)
        }
        return try result.get()
    }

    /// Sends `commands` on a pipelined connection without waiting for the replies (a `DEL` of a
    /// damaged value, a warm-up `PING`). Requests sent after it on the same connection are
    /// answered after it.
    func send(_ commands: [[ByteBuffer]]) {
        choosePipeline().submit(commands) { _ in }
    }

    /// Connects every pipelined connection now (each sends a `PING`) instead of on first use.
    func connectPipelines() {
        for pipeline in pipelines { pipeline.submit([[ByteBuffer(string: "PING")]]) { _ in } }
    }

    /// Requests written on the pipelined connections and not answered yet.
    var inflightRequests: Int {
        pipelines.reduce(0) { $0 + $1.inflightRequests }
    }

    /// Queues `body` without waiting for it (writes nobody awaits, warm-up); it is dropped if
    /// the pool is shut down or overloaded.
    func enqueue(_ body: @escaping @Sendable (RedisConnection) -> Void) {
        queue.submit(Job(run: body, cancel: { _ in }))
    }

    /// Stops accepting jobs, lets queued ones finish, closes the connections and waits for every
    /// worker thread to end.
    func shutdown() async {
        queue.close()
        for pipeline in pipelines {
            pipeline.close()
            await pipeline.waitUntilClosed()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = exits.state.withLock { state -> Bool in
                if state.exited == workerCount { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Counts finished workers and holds whoever waits for all of them.
    private final class ExitLatch: Sendable {
        let state = Mutex<(exited: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))
    }

    private final class ThreadBody {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func startThread(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        #if canImport(Glibc)
            var thread = pthread_t()
        #else
            var thread: pthread_t?
        #endif
        let status = pthread_create(
            &thread, nil,
            { argument in
                let box = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        #if canImport(Glibc)
            pthread_detach(thread)
        #else
            pthread_detach(thread!)
        #endif
    }
}

/// A bounded FIFO of jobs with blocking `next()` for the workers.
///
/// `@unchecked Sendable`: `jobs`, `head` and `closed` are read and written only while `mutex` is
/// held; `condition` is signalled under it. The pthread objects live at fixed heap addresses.
final class JobQueue: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [RedisConnectionPool.Job] = []
    private var head = 0
    private var closed = false
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues `job`, or cancels it at once when the queue is closed or full.
    func submit(_ job: RedisConnectionPool.Job) {
        pthread_mutex_lock(mutex)
        if closed {
            pthread_mutex_unlock(mutex)
            job.cancel(.shutDown)
            return
        }
        if jobs.count - head >= limit {
            pthread_mutex_unlock(mutex)
            job.cancel(.overloaded)
            return
        }
        jobs.append(job)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The next job; blocks while the queue is empty and open. `nil` once closed and drained.
    func next() -> RedisConnectionPool.Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == jobs.count && !closed {
            pthread_cond_wait(condition, mutex)
        }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Refuses new jobs and wakes every worker; queued jobs still run.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
