import NIOCore
import Synchronization

/// The tier's `RedisLoopConnection`s, one per event loop that asked, made on first use.
///
/// At most `maxLoops` loops get one (a server has one loop per core); a caller on any other loop,
/// or on a loop that cannot open sockets, gets nil and uses the thread pool instead.
final class RedisLoopConnections: Sendable {
    static let maxLoops = 64

    private enum Admission {
        case open([ObjectIdentifier: RedisLoopConnection])
        case closed
    }

    private let url: RedisURL
    private let timeout: Duration
    private let maxQueued: Int
    private let maxReplyBytes: Int
    private let admission = Mutex(Admission.open([:]))

    init(url: RedisURL, timeout: Duration, maxQueued: Int, maxReplyBytes: Int) {
        self.url = url
        self.timeout = timeout
        self.maxQueued = maxQueued
        self.maxReplyBytes = maxReplyBytes
    }

    /// The connection of `eventLoop`, made on first use; nil after `close()`, past `maxLoops`, or
    /// for a loop that cannot open sockets.
    func connection(on eventLoop: any EventLoop) -> RedisLoopConnection? {
        let id = ObjectIdentifier(eventLoop)
        return admission.withLock { admission -> RedisLoopConnection? in
            guard case .open(var connections) = admission else { return nil }
            if let known = connections[id] { return known }
            guard connections.count < Self.maxLoops,
                let made = RedisLoopConnection(
                    eventLoop: eventLoop, url: url, timeout: timeout, maxQueued: maxQueued, maxReplyBytes: maxReplyBytes)
            else { return nil }
            admission = .closed
            connections[id] = made
            admission = .open(connections)
            return made
        }
    }

    /// Closes every connection (on its loop, without waiting); later callers get nil.
    func close() {
        let connections = admission.withLock { admission -> [RedisLoopConnection] in
            defer { admission = .closed }
            guard case .open(let connections) = admission else { return [] }
            return Array(connections.values)
        }
        for connection in connections { connection.close() }
    }
}
