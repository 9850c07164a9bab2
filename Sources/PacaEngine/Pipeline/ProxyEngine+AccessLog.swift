import Atomics
import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore

/// The engine's access-log records: one per answered request, built on the event loop and
/// handed to the log's shard for the loop (the writer thread formats it).
extension ProxyEngine {
    /// `client`: the client as the caller found it (`clientAddress`), when it has.
    func record(
        _ exchange: Exchange, status: Int, bytes: Int, cache: AccessLogRecord.CacheOutcome, tier: String = "", ttl: Int?,
        collapsed: Bool, originMillis: Double?, key: String? = nil, keyHash: UInt64? = nil, client: String? = nil,
        at end: NIODeadline = .now()
    ) -> AccessLogRecord {
        let elapsed = AccessLogRecord.milliseconds(nanoseconds: (end - exchange.startUptime).nanoseconds)
        return AccessLogRecord(
            timestamp: exchange.startTime, method: exchange.request.head.method.wireName,
            host: Self.loggedHost(exchange.request.head.headers), url: exchange.request.head.uri,
            route: exchange.route.name, status: status, bytes: bytes, cache: cache, tier: tier, ttl: ttl, collapsed: collapsed,
            key: key ?? exchange.key, keyHash: keyHash, milliseconds: elapsed, originMilliseconds: originMillis,
            client: client ?? clientAddress(exchange.request))
    }

    func logLocal(_ request: ProxyRequest, status: Int, route: String, start: UnixMillis, uptime: NIODeadline) {
        guard let accessLog else { return }
        let elapsed = AccessLogRecord.milliseconds(nanoseconds: (NIODeadline.now() - uptime).nanoseconds)
        accessLog.append(
            AccessLogRecord(
                timestamp: start, method: request.head.method.wireName, host: Self.loggedHost(request.head.headers),
                url: request.head.uri, route: route, status: status, bytes: 0, cache: .pass, milliseconds: elapsed,
                client: clientAddress(request)))
    }

    /// The `Host` field's value as logged ("" when there is none). Clients send it first, and
    /// nearly always spelt `Host`: that field is compared whole (two equal short strings compare
    /// as two words) before the search of every field by name, case-insensitively (about 120
    /// instructions on every logged request).
    @inline(__always)
    static func loggedHost(_ headers: HTTPHeaders) -> String {
        if let first = headers.first, first.name == "Host" || first.name == "host" { return first.value }
        return headers.first(name: "host") ?? ""
    }

    /// The client as logged: the peer, or with a trusted peer the rightmost untrusted
    /// `X-Forwarded-For` entry.
    func clientAddress(_ request: ProxyRequest) -> String {
        guard trustsAProxy.load(ordering: .acquiring) else { return request.peer }
        let trustedProxies = self.trustedProxies
        guard trustedProxies.contains(request.peer) else { return request.peer }
        let chain = request.head.headers["x-forwarded-for"].flatMap { $0.split(separator: ",") }.map { String($0.trimmingSpaces()) }
        return chain.reversed().first { !trustedProxies.contains($0) } ?? request.peer
    }
}
