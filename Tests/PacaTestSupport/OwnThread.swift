import Foundation

/// Runs `body` on a thread of its own and returns its result. For a test that keeps a core busy
/// for seconds: run inline it would hold one of the few threads of Swift's cooperative pool
/// (two on a 2-core CI box) for that long, and the timing tests running beside it (an idle
/// timeout, a client that must be closed "at once") would wait for a thread instead of their
/// events. On a thread of its own it only shares the cores, as the kernel schedules them.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
