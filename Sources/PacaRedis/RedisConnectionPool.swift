import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed set of worker threads, each owning one `RedisConnection`, fed from one shared queue.
///
/// A Redis round trip blocks only its worker thread: callers `await` a continuation that the
/// worker resumes, so neither an event loop nor the cooperative pool ever waits on a socket.
final class RedisConnectionPool: Sendable {
    /// A unit of work: `run` on a worker with its connection, or `cancel` if it never gets one.
    struct Job: Sendable {
        let run: @Sendable (RedisConnection) -> Void
        let cancel: @Sendable (RedisError) -> Void
    }

    private let queue: JobQueue
    private let exits: ExitLatch
    private let workerCount: Int

    /// Starts `size` worker threads. `onConnect` runs on a worker after each successful connect
    /// (AUTH and SELECT done) and may issue commands on that connection.
    init(url: RedisURL, size: Int, timeout: Duration, maxQueuedJobs: Int, onConnect: @escaping @Sendable (RedisConnection) -> Void) {
        self.queue = JobQueue(limit: maxQueuedJobs)
        self.workerCount = size
        self.exits = ExitLatch()
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

    /// Queues `body` without waiting for it (writes nobody awaits, warm-up); it is dropped if
    /// the pool is shut down or overloaded.
    func enqueue(_ body: @escaping @Sendable (RedisConnection) -> Void) {
        queue.submit(Job(run: body, cancel: { _ in }))
    }

    /// Stops accepting jobs, lets queued ones finish, closes the connections and waits for every
    /// worker thread to end.
    func shutdown() async {
        queue.close()
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

    private static func startThread(_ body: @escaping () -> Void) {
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
