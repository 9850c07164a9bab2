import Foundation
public import PacaAccessLog
import Synchronization

/// Reads a log ahead of a replay on a thread of its own, at most `capacity` requests ahead: the
/// reader is synchronous and a 5 GB log must never be held whole. Only GET and HEAD lines pass.
/// One consumer calls `next()`; `stop()` ends the read early (at `--limit` or `--duration`).
public final class LogRequestWindow: Sendable {
    private struct State {
        var buffer: [LogRequest] = []
        var head = 0
        var finished: Result<LogReadReport, any Error>?
        var waiter: CheckedContinuation<LogRequest?, any Error>?
        var stopped = false
    }

    private struct Stopped: Error {}

    /// Requests read ahead at most (default 4096).
    public let capacity: Int
    // The producer thread waits on `space` while the buffer is full; the consumer signals it
    // after taking a request (the state changes under `state`'s lock first, then `space` is
    // locked to signal, so a producer between its check and its wait cannot miss the signal).
    private let space = NSCondition()
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    /// Starts reading `reader` on a new thread.
    public init(reader: LogReader, capacity: Int = 4096) {
        precondition(capacity > 0)
        self.capacity = capacity
        let thread = Thread { [self] in
            // Named from inside, where the name reaches the kernel's (`ps -L`).
            Thread.current.name = "paca-replay-log"
            let result = Result { try reader.forEach { request in try self.push(request) } }
            self.finish(result)
        }
        thread.start()
    }

    /// The next GET or HEAD request of the log; `nil` at its end or after `stop()`. Throws the
    /// reader's error when the file cannot be read further.
    public func next() async throws -> LogRequest? {
        let taken: Result<LogRequest?, any Error>? = state.withLock { state in
            if state.head < state.buffer.count {
                let request = state.buffer[state.head]
                state.head += 1
                if state.head > 1024, state.head * 2 > state.buffer.count {
                    state.buffer.removeFirst(state.head)
                    state.head = 0
                }
                return .success(request)
            }
            if state.stopped { return .success(nil) }
            switch state.finished {
            case .success: return .success(nil)
            case .failure(let error): return error is Stopped ? .success(nil) : .failure(error)
            case nil: return nil
            }
        }
        if let taken {
            if case .success(.some) = taken { signalSpace() }
            return try taken.get()
        }
        let request = try await withCheckedThrowingContinuation { continuation in
            let ready: Result<LogRequest?, any Error>? = state.withLock { state in
                if state.head < state.buffer.count {
                    let request = state.buffer[state.head]
                    state.head += 1
                    return .success(request)
                }
                if state.stopped { return .success(nil) }
                switch state.finished {
                case .success: return .success(nil)
                case .failure(let error): return error is Stopped ? .success(nil) : .failure(error)
                case nil:
                    state.waiter = continuation
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
        if request != nil { signalSpace() }
        return request
    }

    /// Ends the read: the thread stops at its next request and `next()` returns `nil`.
    public func stop() {
        state.withLock { $0.stopped = true }
        signalSpace()
    }

    /// What the reader counted; waits for the thread to finish (call after `stop()` or the end).
    public func readReport() -> LogReadReport? {
        done.wait()
        done.signal()
        return state.withLock { state in
            if case .success(let report) = state.finished { return report }
            return nil
        }
    }

    private func push(_ request: LogRequest) throws {
        guard request.method == "GET" || request.method == "HEAD" else { return }
        space.lock()
        while state.withLock({ !$0.stopped && $0.buffer.count - $0.head >= capacity }) { space.wait() }
        space.unlock()
        let waiter: CheckedContinuation<LogRequest?, any Error>? = try state.withLock { state in
            if state.stopped { throw Stopped() }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(request)
            return nil
        }
        waiter?.resume(returning: request)
    }

    private func signalSpace() {
        space.lock()
        space.signal()
        space.unlock()
    }

    private func finish(_ result: Result<LogReadReport, any Error>) {
        let waiter = state.withLock { state in
            state.finished = result
            defer { state.waiter = nil }
            return state.waiter
        }
        switch result {
        case .success: waiter?.resume(returning: nil)
        case .failure(let error): if error is Stopped { waiter?.resume(returning: nil) } else { waiter?.resume(throwing: error) }
        }
        done.signal()
    }
}
