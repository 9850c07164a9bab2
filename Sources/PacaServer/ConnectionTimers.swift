import NIOCore

/// The connection timeouts of one event loop, checked by one coarse tick (as a timer wheel with a
/// single slot): each connection's `ConnectionTimeoutHandler` joins when it becomes active and
/// leaves when it goes inactive, both O(1) and without an allocation once the table has grown to
/// the loop's connections. A connection costs no scheduled task of its own: NIO cancels one by a
/// linear search of the loop's timer heap, which was about 3 % of a connection's core when each
/// request came on a new connection. The tick runs while connections are on the loop.
///
/// A deadline is noticed on the first tick after it passes, so a timeout fires up to one `tick`
/// late; `HTTPServer` makes the tick a quarter of the shortest timeout, at most one second.
///
/// Used on its event loop only; `@unchecked Sendable` so the server can hand each accepted
/// connection its loop's set (every method checks the loop in debug builds).
final class ConnectionTimers: @unchecked Sendable {
    let eventLoop: any EventLoop
    let tick: TimeAmount
    /// Members by slot; a freed slot is `nil` until reused.
    private var members: [ConnectionTimeoutHandler?] = []
    private var freeSlots: [Int] = []
    private var task: RepeatedTask?

    init(eventLoop: any EventLoop, tick: TimeAmount) {
        self.eventLoop = eventLoop
        self.tick = tick
    }

    /// The tick for connections whose shortest timeout is `shortest`: a quarter of it, between
    /// 10 ms and one second.
    static func tick(forShortest shortest: TimeAmount) -> TimeAmount {
        .nanoseconds(min(max(shortest.nanoseconds / 4, 10_000_000), 1_000_000_000))
    }

    /// Connections on the loop now.
    var count: Int { members.count - freeSlots.count }

    /// Whether the tick is scheduled.
    var isTicking: Bool { task != nil }

    /// Adds `member`; returns its slot, for `remove`.
    func add(_ member: ConnectionTimeoutHandler) -> Int {
        eventLoop.assertInEventLoop()
        let slot: Int
        if let free = freeSlots.popLast() {
            members[free] = member
            slot = free
        } else {
            members.append(member)
            slot = members.count - 1
        }
        if task == nil {
            task = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [self] (_: RepeatedTask) in
                self.check(now: .now())
            }
        }
        return slot
    }

    /// Removes the member in `slot`.
    func remove(slot: Int) {
        eventLoop.assertInEventLoop()
        guard members.indices.contains(slot), members[slot] != nil else { return }
        members[slot] = nil
        freeSlots.append(slot)
        guard count == 0 else { return }
        members.removeAll(keepingCapacity: true)
        freeSlots.removeAll(keepingCapacity: true)
    }

    /// Checks every member's deadlines at `now` (a member may leave while it is checked). A
    /// check that finds no member stops the tick: it stops one tick after the last connection
    /// left, so connections that come and go within a tick (one request each) do not start and
    /// stop it each time.
    func check(now: NIODeadline) {
        eventLoop.assertInEventLoop()
        var slot = 0
        while slot < members.count {
            members[slot]?.check(now: now)
            slot += 1
        }
        if count == 0 {
            task?.cancel()
            task = nil
        }
    }
}
