import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

/// What goes to the origin: its URL and the request fields (DESIGN.md §3, "What reaches the origin").
extension ProxyEngine {
    // MARK: - Helpers

    /// `origin + base path + path [+ ? query]`.
    func originURL(route: Route, path: String, query: String) -> String {
        var url = route.origin.schemeAndAuthority + route.origin.basePath + path
        if !query.isEmpty {
            url += "?"
            url += query
        }
        return url
    }

    /// What a cacheable request forwards (DESIGN.md §3, "What reaches the origin"). With
    /// `forward: all`, every end-to-end field but the poisoning vectors from untrusted peers; with
    /// `forward: keyed`, the keyed and `forward_headers` fields and `Authorization`. On a fill
    /// (`isFill`) the client's conditionals and `Range` stay behind: paca asks for the whole
    /// representation and answers the client's conditions itself. Then `Host` with
    /// `preserve_host`, `X-Forwarded-For` and `Via`.
    func cacheableRequestFields(_ exchange: Exchange, isFill: Bool) -> [HTTPField] {
        let head = exchange.request.head
        let route = exchange.route
        let trusted = trustedProxies.contains(exchange.request.peer)
        var fields: [HTTPField] = []
        switch route.forward {
        case .all:
            var drop: Set<String> = isFill ? HeaderRules.clientPreconditions : []
            if route.stripCookies, !route.keyedHeaderNames.contains("cookie") { drop.insert("cookie") }
            fields = HeaderRules.endToEndRequestFields(head.headers, trustedPeer: trusted, dropping: drop)
        case .keyed:
            for name in route.keyedHeaderNames where name != "cookie" || !route.stripCookies {
                for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
            }
            for value in head.headers["authorization"] where !route.keyedHeaderNames.contains("authorization") {
                fields.append(HTTPField(name: "Authorization", value: value))
            }
            if trusted {
                for name in ["forwarded", "x-forwarded-host", "x-forwarded-proto"] {
                    for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
                }
            }
            if !isFill {
                for name in HeaderRules.clientPreconditions.sorted() {
                    for value in head.headers[name] { fields.append(HTTPField(name: name, value: value)) }
                }
            }
        }
        if route.preserveHost { fields.append(HTTPField(name: "Host", value: exchange.host)) }
        fields.append(contentsOf: forwardingFields(exchange))
        return fields
    }

    /// `Via` and `X-Forwarded-For`: appended to for trusted peers, replaced for the rest.
    func forwardingFields(_ exchange: Exchange) -> [HTTPField] {
        let head = exchange.request.head
        let peer = exchange.request.peer
        var fields: [HTTPField] = []
        if trustedProxies.contains(peer) {
            let chain = head.headers["x-forwarded-for"].joined(separator: ", ")
            fields.append(HTTPField(name: "X-Forwarded-For", value: chain.isEmpty ? peer : "\(chain), \(peer)"))
        } else if !peer.isEmpty {
            fields.append(HTTPField(name: "X-Forwarded-For", value: peer))
        }
        let via = head.headers["via"].joined(separator: ", ")
        let version = "\(head.version.major).\(head.version.minor)"
        fields.append(HTTPField(name: "Via", value: via.isEmpty ? "\(version) paca" : "\(via), \(version) paca"))
        return fields
    }
}
