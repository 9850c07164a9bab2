public import PacaCore

/// How a replay spaces its requests.
public enum ReplayPacing: Sendable, Equatable, CustomStringConvertible {
    /// The log's own relative timing, scaled: at speed 2 a log of 10 minutes plays in 5. Lines
    /// without a timestamp go out with the line before.
    case speed(Double)
    /// Open loop: `rate` requests per second, whatever the answers take.
    case rate(Double)
    /// Closed loop: this many requests in flight, each sent as soon as one finishes.
    case concurrency(Int)

    /// The pacing as the report prints it (`speed 2x`, `rate 100/s`, `concurrency 8`).
    public var description: String {
        switch self {
        case .speed(let factor): "speed \(Self.number(factor))x"
        case .rate(let rate): "rate \(Self.number(rate))/s"
        case .concurrency(let count): "concurrency \(count)"
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// When each request of a replay is due, as an offset from the start of the run: a pure
/// function of the pacing and the log, so it is tested without a clock.
public struct ReplaySchedule: Sendable {
    /// The pacing followed.
    public let pacing: ReplayPacing
    private var firstTimestamp: UnixMillis?
    private var lastDue: Duration = .zero
    private var sent = 0

    /// Creates the schedule of a run.
    public init(pacing: ReplayPacing) {
        self.pacing = pacing
    }

    /// The offset from the start at which the next request, logged at `timestamp`, is due;
    /// `nil` for a closed loop, where a request goes as soon as a slot is free. Offsets never
    /// decrease: a line logged earlier than the one before goes out with it.
    public mutating func nextDue(timestamp: UnixMillis?) -> Duration? {
        defer { sent += 1 }
        switch pacing {
        case .concurrency:
            return nil
        case .rate(let rate):
            return .nanoseconds(Int64((Double(sent) / rate * 1e9).rounded()))
        case .speed(let factor):
            guard let timestamp else { return lastDue }
            guard let first = firstTimestamp else {
                firstTimestamp = timestamp
                return lastDue
            }
            let due = Duration.nanoseconds(Int64((Double(timestamp - first) * 1e6 / factor).rounded()))
            lastDue = max(lastDue, due)
            return lastDue
        }
    }
}
