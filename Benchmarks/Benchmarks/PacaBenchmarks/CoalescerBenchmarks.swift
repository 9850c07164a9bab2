import Benchmark
import Dispatch
import NIOCore
import PacaStorage

/// Request coalescing under a thundering herd: 10,000 requests join one key's fill, then the
/// leader completes it. Joining is O(1) amortized (the waiter is appended in place), so the time
/// per join stays flat as the herd grows; before, each join copied every earlier waiter.
let coalescerBenchmarks: @Sendable () -> Void = {
    Benchmark(
        "RequestCoalescer: 10,000 waiters join one key, then complete",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(3), maxIterations: 1000)
    ) { benchmark in
        let loop = ImmediateEventLoop()
        for _ in benchmark.scaledIterations {
            let coalescer = RequestCoalescer<Int>(maxWaiters: 10_000)
            guard case .leader(let token) = coalescer.join(key: "hot", on: loop) else { fatalError("the first join leads") }
            for _ in 0..<10_000 { blackHole(coalescer.join(key: "hot", on: loop)) }
            coalescer.complete(key: "hot", token: token, with: 200)
        }
    }
}

/// The smallest event loop a promise needs: every task runs at once on the caller's thread.
private final class ImmediateEventLoop: EventLoop {
    var inEventLoop: Bool { true }

    func execute(_ task: @escaping @Sendable () -> Void) { task() }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = makePromise(of: T.self)
        promise.fail(EventLoopError.unsupportedOperation)
        return Scheduled(promise: promise, cancellationTask: {})
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(nil) }
    }
}
