import Synchronization

/// A bounded queue of tier writes drained by one task at a time. `enqueue` never waits: when the
/// queue is full the write is dropped and counted (DESIGN.md §3, "Tiers").
final class WriteBehindQueue: Sendable {
    typealias Job = @Sendable () async -> Void

    private struct State {
        var jobs: [Job] = []
        var draining = false
        var dropped = 0
        var completed = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues `job`; returns `false` (and counts a drop) when the queue is full.
    @discardableResult
    func enqueue(_ job: @escaping Job) -> Bool {
        let startDrain = state.withLock { state -> Bool? in
            guard state.jobs.count < capacity else {
                state.dropped += 1
                return nil
            }
            state.jobs.append(job)
            if state.draining { return false }
            state.draining = true
            return true
        }
        guard let startDrain else { return false }
        if startDrain {
            Task { await self.drain() }
        }
        return true
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let batch = state.jobs
                state.jobs.removeAll(keepingCapacity: true)
                return batch
            }
            if batch.isEmpty {
                let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
                    guard state.jobs.isEmpty else { return nil }
                    state.draining = false
                    defer { state.idleWaiters.removeAll() }
                    return state.idleWaiters
                }
                guard let waiters else { continue }
                for waiter in waiters { waiter.resume() }
                return
            }
            for job in batch { await job() }
            state.withLock { $0.completed += batch.count }
        }
    }

    /// Returns when every queued write has run.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state -> Bool in
                if !state.draining && state.jobs.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Writes dropped because the queue was full.
    var dropped: Int { state.withLock { $0.dropped } }

    /// Writes waiting.
    var pending: Int { state.withLock { $0.jobs.count } }
}
