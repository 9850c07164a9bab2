import Synchronization

/// A counter bumped from many event loops and read seldom: each thread adds to its own stripe
/// (`ThreadSlot`), on its own cache line, so loops counting hits never bounce a line between
/// cores; a read sums the stripes. Threads beyond `stripes` share stripes, still correctly.
public final class StripedCounter: Sendable {
    /// Stripes; a power of two.
    public static let stripes = 8

    /// One stripe: the count, then padding so two stripes' counts never share a cache line.
    private final class Stripe: Sendable {
        let value = Atomic<Int>(0)
        private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    private let stripes: [Stripe]

    /// A counter at zero.
    public init() {
        stripes = (0..<Self.stripes).map { _ in Stripe() }
    }

    /// Adds one (or `amount`) on the calling thread's stripe.
    @inline(__always)
    public func increment(by amount: Int = 1) {
        stripes[ThreadSlot.current & (Self.stripes - 1)].value.wrappingAdd(amount, ordering: .relaxed)
    }

    /// The sum of every stripe.
    public func load() -> Int {
        stripes.reduce(0) { $0 &+ $1.value.load(ordering: .relaxed) }
    }
}
