import Dispatch
import Foundation
import PacaCore
import Testing

@Suite("StripedCounter")
struct StripedCounterTests {
    @Test("increments from many threads at once all count, whichever stripe they land on")
    func concurrentIncrements() {
        let counter = StripedCounter()
        // More threads than stripes, so some share a stripe.
        let threads = StripedCounter.stripes * 2 + 3
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for _ in 0..<10_000 { counter.increment() }
            counter.increment(by: thread)
        }
        #expect(counter.load() == threads * 10_000 + (0..<threads).reduce(0, +))
    }

    @Test("a thread keeps its slot, and threads get slots in turn")
    func slots() async {
        let first = ThreadSlot.current
        #expect(ThreadSlot.current == first)
        let other = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            Thread.detachNewThread { continuation.resume(returning: ThreadSlot.current) }
        }
        #expect(other != first, "a new thread gets a new slot")
    }
}
