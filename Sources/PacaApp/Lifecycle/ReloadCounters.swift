import Synchronization

/// How many configuration reloads this node applied and refused, and how many reload broadcasts
/// it sent and received (`/stats` "reloads", `/metrics` `paca_config_reloads_total`).
final class ReloadCounters: Sendable {
    /// One moment's figures.
    struct Snapshot: Sendable, Equatable {
        var applied = 0
        var refused = 0
        var broadcastsSent = 0
        var broadcastsReceived = 0
    }

    private let applied = Atomic(0)
    private let refused = Atomic(0)
    private let broadcastsSent = Atomic(0)
    private let broadcastsReceived = Atomic(0)

    func noteApplied() { applied.add(1, ordering: .relaxed) }
    func noteRefused() { refused.add(1, ordering: .relaxed) }
    func noteBroadcastSent() { broadcastsSent.add(1, ordering: .relaxed) }
    func noteBroadcastReceived() { broadcastsReceived.add(1, ordering: .relaxed) }

    func snapshot() -> Snapshot {
        Snapshot(
            applied: applied.load(ordering: .relaxed), refused: refused.load(ordering: .relaxed),
            broadcastsSent: broadcastsSent.load(ordering: .relaxed), broadcastsReceived: broadcastsReceived.load(ordering: .relaxed))
    }
}
