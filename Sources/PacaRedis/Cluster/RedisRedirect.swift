/// A cluster redirection in an error reply: `MOVED <slot> <host>:<port>` (the slot lives there
/// now: update the map) or `ASK <slot> <host>:<port>` (the slot is migrating: ask there once,
/// after `ASKING`, and keep the map).
public struct RedisRedirect: Sendable, Equatable {
    /// Which kind of redirection.
    public enum Kind: Sendable, Equatable {
        /// The slot has moved for good.
        case moved
        /// Only this key is elsewhere, while the slot migrates.
        case ask
    }

    /// Moved or ask.
    public var kind: Kind
    /// The slot named.
    public var slot: Int
    /// Where to ask.
    public var node: RedisNodeAddress

    /// Creates a redirection from its parts.
    public init(kind: Kind, slot: Int, node: RedisNodeAddress) {
        self.kind = kind
        self.slot = slot
        self.node = node
    }

    /// Parses an error reply's text; `nil` when it is not a redirection. An empty host (a node
    /// that does not know its own address, `MOVED 3999 :6380`) stays empty: the caller uses the
    /// address it reached that node by.
    public init?(errorMessage: String) {
        let parts = errorMessage.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<RedisHashSlot.count).contains(slot),
            let node = RedisNodeAddress(parsing: String(parts[2]))
        else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        self.node = node
    }
}

/// A cluster node's address: host (an IPv6 address without brackets) and port.
public struct RedisNodeAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `v6:port` (the last colon separates the port).
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            return nil
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.host = String(host)
        self.port = port
    }

    /// `host:port` (`[v6]:port`).
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}
