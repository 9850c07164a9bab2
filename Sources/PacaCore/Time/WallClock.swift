import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Milliseconds since the Unix epoch, UTC. Every timestamp paca stores or compares is one of these.
public typealias UnixMillis = Int64

/// The source of wall-clock time. Injected everywhere a timestamp is taken, so tests move time
/// forward instead of sleeping.
public protocol WallClock: Sendable {
    /// The current time in Unix milliseconds.
    func now() -> UnixMillis
}

/// The real clock: `clock_gettime(CLOCK_REALTIME)`.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current time in Unix milliseconds.
    public func now() -> UnixMillis {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixMillis(spec.tv_sec) * 1000 + UnixMillis(spec.tv_nsec / 1_000_000)
    }
}

/// A clock that only moves when told to; for tests and simulations.
public final class ManualWallClock: WallClock {
    private let current: Atomic<Int64>

    /// Creates a clock standing at `start` (default: 2026-01-01T00:00:00Z).
    public init(start: UnixMillis = 1_767_225_600_000) {
        self.current = Atomic(start)
    }

    /// The time the clock stands at.
    public func now() -> UnixMillis {
        current.load(ordering: .acquiring)
    }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        current.add(duration.milliseconds, ordering: .acquiringAndReleasing)
    }

    /// Sets the clock to `time`.
    public func set(_ time: UnixMillis) {
        current.store(time, ordering: .releasing)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
