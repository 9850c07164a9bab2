import Synchronization

/// Counters that each thread (each event loop) adds to on cache lines of its own, summed when
/// read. The engine counts every request, every hit and its duration on whichever loop answers
/// it; with one shared atomic per counter, each of those increments would move the counter's
/// cache line between the cores of the loops.
///
/// `count` counters per stripe, `stripes` stripes; a thread uses stripe `ThreadSlot.current %
/// stripes` (threads beyond share stripes, which stays correct, only slower). A stripe's row is
/// a multiple of 128 bytes, so two stripes never share a cache line, nor the pair of lines a
/// prefetcher fetches together.
public final class StripedCounters: @unchecked Sendable {
    // @unchecked: `slots` is written once, in init, and every access after is an atomic
    // operation on one of its elements.

    /// Stripes per set of counters.
    public static let stripes = 8
    /// Counters per stripe.
    public let count: Int
    private let rowLength: Int
    private let slots: UnsafeMutablePointer<Atomic<Int>>

    /// `count` counters, all zero.
    public init(count: Int) {
        precondition(count > 0, "no counters")
        self.count = count
        rowLength = (count + 15) / 16 * 16
        let total = rowLength * Self.stripes
        let raw = UnsafeMutableRawPointer.allocate(byteCount: total * MemoryLayout<Atomic<Int>>.stride, alignment: 128)
        slots = raw.bindMemory(to: Atomic<Int>.self, capacity: total)
        for index in 0..<total { (slots + index).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: rowLength * Self.stripes)
        UnsafeMutableRawPointer(slots).deallocate()
    }

    /// The stripe of the calling thread, for several `add`s in a row.
    @inline(__always)
    public static var stripe: Int { ThreadSlot.current % stripes }

    /// Adds `value` to counter `index` in `stripe` (the caller's: `StripedCounters.stripe`).
    @inline(__always)
    public func add(_ value: Int, to index: Int, stripe: Int) {
        precondition(index >= 0 && index < count && stripe >= 0 && stripe < Self.stripes, "counter out of range")
        slots[stripe * rowLength + index].wrappingAdd(value, ordering: .relaxed)
    }

    /// Adds `value` to counter `index` in the calling thread's stripe.
    @inline(__always)
    public func add(_ value: Int, to index: Int = 0) {
        add(value, to: index, stripe: Self.stripe)
    }

    /// Counter `index` summed over the stripes.
    public func sum(_ index: Int = 0) -> Int {
        precondition(index >= 0 && index < count, "counter out of range")
        var total = 0
        for stripe in 0..<Self.stripes { total &+= slots[stripe * rowLength + index].load(ordering: .relaxed) }
        return total
    }
}
