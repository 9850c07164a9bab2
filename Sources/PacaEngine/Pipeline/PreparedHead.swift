import PacaCore

/// What the engine works out from a request head before it looks anything up: the target, the
/// route, which fields the head has, and the cache key's parts. A function of the head's bytes
/// and the engine's settings alone, so a connection that sends the same head again (the same
/// `ProxyRequest.headSerial`) gets it from its `RequestMemo` instead of working it out again.
/// Confined to the connection's event loop, like the memo.
final class PreparedHead {
    /// The key's parts (`ProxyEngine.assignKey`), once a request of this head has needed them.
    struct KeyParts {
        let host: String
        let keyedQuery: String
        let primaryKey: String
        /// `primaryKey.hashValue`, for the L1 lookup of every hit of this head.
        let primaryKeyHash: Int
    }

    let target: RequestTarget
    /// The route's index in the settings' route table.
    let routeIndex: Int
    let present: RequestFieldPresence
    var key: KeyParts?

    init(target: RequestTarget, routeIndex: Int, present: RequestFieldPresence) {
        self.target = target
        self.routeIndex = routeIndex
        self.present = present
    }
}

extension ProxyEngine {
    /// `assignKey`, with the key's parts taken from `prepared` when a request of the same head
    /// worked them out, and kept there otherwise.
    func assignKey(_ exchange: inout Exchange, prepared: PreparedHead?) {
        guard let prepared else { return assignKey(&exchange) }
        guard let key = prepared.key else {
            assignKey(&exchange)
            let hash = exchange.primaryKey.hashValue
            prepared.key = PreparedHead.KeyParts(
                host: exchange.host, keyedQuery: exchange.keyedQuery, primaryKey: exchange.primaryKey, primaryKeyHash: hash)
            exchange.primaryKeyHash = hash
            return
        }
        exchange.host = key.host
        exchange.keyedQuery = key.keyedQuery
        exchange.primaryKey = key.primaryKey
        exchange.primaryKeyHash = key.primaryKeyHash
        exchange.key = key.primaryKey
        assignDirectives(&exchange)
    }
}
