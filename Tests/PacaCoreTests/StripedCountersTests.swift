import Foundation
import PacaCore
import Testing

@Suite("StripedCounters", .timeLimit(.minutes(1)))
struct StripedCountersTests {
    @Test("adds from many threads are all counted, per counter, whatever stripes they land in")
    func sumsAcrossThreads() async {
        let counters = StripedCounters(count: 20)
        let threads = 12  // more than the stripes: some share one
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<threads {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        Thread {
                            for _ in 0..<10_000 {
                                counters.add(1)
                                counters.add(thread, to: 19)
                            }
                            counters.add(5, to: 7, stripe: StripedCounters.stripe)
                            done.resume()
                        }.start()
                    }
                }
            }
        }
        #expect(counters.sum() == threads * 10_000)
        #expect(counters.sum(19) == (0..<threads).reduce(0, +) * 10_000)
        #expect(counters.sum(7) == threads * 5)
        #expect(counters.sum(3) == 0)
    }

    @Test("threads get distinct slots, so the first loops never share a stripe")
    func distinctSlots() async {
        let slots = await withTaskGroup(of: Int.self) { group -> Set<Int> in
            for _ in 0..<StripedCounters.stripes {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Int, Never>) in
                        Thread { done.resume(returning: ThreadSlot.current) }.start()
                    }
                }
            }
            return await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(slots.count == StripedCounters.stripes)
    }
}
