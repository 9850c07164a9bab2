import CThreadSlot
import Synchronization

/// A small number given to each thread the first time it asks, round robin: event-loop threads
/// get distinct numbers, so each can own a shard of a structure and never contend with another
/// loop for its lock or its counters' cache line. Reading it is one load of a thread-local word
/// (`CThreadSlot`).
public enum ThreadSlot {
    private static let next = Atomic<Int>(0)

    /// This thread's number: 0, 1, 2 … in the order threads first asked.
    public static var current: Int {
        let stored = paca_thread_slot_get()
        if stored != 0 { return stored - 1 }
        let slot = next.add(1, ordering: .relaxed).oldValue
        paca_thread_slot_set(slot + 1)
        return slot
    }
}
