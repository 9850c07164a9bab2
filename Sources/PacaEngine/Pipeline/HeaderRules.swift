import NIOHTTP1
import PacaCore
import PacaHTTPCaching

/// Which header fields cross the proxy, in each direction.
enum HeaderRules {
    /// Fields paca computes itself on every response, so the origin's copy never passes through.
    static let recomputedOnResponse: Set<String> = ["content-length", "age"]

    /// The origin's fields as they go to the client and into the cache: hop-by-hop fields and
    /// the fields named in `Connection` gone, `Content-Length`/`Age` left to paca, `Via` extended,
    /// `Date` added when missing (RFC 9110 §6.6.1).
    static func responseFields(from origin: [HTTPField], responseTime: Int64, addVia: Bool = true) -> [HTTPField] {
        let hopByHop = HopByHop.names(in: origin)
        var fields: [HTTPField] = []
        fields.reserveCapacity(origin.count + 2)
        var sawDate = false
        var via: String?
        for field in origin {
            let name = field.name.lowercased()
            if hopByHop.contains(name) || recomputedOnResponse.contains(name) { continue }
            if name == "via" {
                via = via.map { "\($0), \(field.value)" } ?? field.value
                continue
            }
            if name == "date" { sawDate = true }
            fields.append(field)
        }
        if !sawDate {
            fields.append(HTTPField(name: "Date", value: HTTPDate.format(unixSeconds: responseTime / 1000)))
        }
        if addVia {
            fields.append(HTTPField(name: "Via", value: via.map { "\($0), 1.1 paca" } ?? "1.1 paca"))
        } else if let via {
            fields.append(HTTPField(name: "Via", value: via))
        }
        return fields
    }

    /// Request fields that override routing or URLs in some origins and frameworks: the known
    /// cache-poisoning vectors (DESIGN.md §3). From a peer outside `trusted_proxies` they never
    /// reach the origin; from a trusted peer they pass unchanged. This is the one list; the
    /// README documents it.
    static let poisoningVectors: Set<String> = [
        "forwarded", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-scheme",
        "x-forwarded-server", "x-forwarded-prefix", "x-forwarded-ssl", "x-forwarded-uri", "x-forwarded-path",
        "x-host", "x-original-host", "x-original-url", "x-rewrite-url", "x-original-uri",
        "x-http-method-override", "x-http-method", "x-method-override", "x-http-destinationurl", "x-proxy-url",
        "front-end-https", "x-url-scheme",
    ]

    /// Fields a client never sends through: libcurl or paca write their own (`Host`,
    /// `Content-Length`), paca rewrites them (`Via`, `X-Forwarded-For`), or they describe the
    /// client's transfer, not the request (`Expect`).
    static let rewrittenRequestFields: Set<String> = ["host", "content-length", "via", "x-forwarded-for", "expect"]

    /// A client's conditionals and `Range`: on a fill paca sends its own validators and asks for
    /// the whole representation, then answers the client's conditions itself.
    static let clientPreconditions: Set<String> = [
        "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range",
    ]

    /// The client's end-to-end request fields as they go to the origin: everything but the
    /// hop-by-hop fields, the fields paca rewrites, and — from untrusted peers — the poisoning
    /// vectors; minus `also` (conditionals on a fill, an unkeyed `Cookie` the route strips).
    static func endToEndRequestFields(_ headers: HTTPHeaders, trustedPeer: Bool, dropping also: Set<String> = []) -> [HTTPField] {
        var fields: [HTTPField] = []
        fields.reserveCapacity(headers.count)
        var connectionNamed: Set<String> = []
        for value in headers["connection"] {
            for member in value.split(separator: ",") { connectionNamed.insert(member.trimmingSpaces().lowercased()) }
        }
        for header in headers {
            let name = header.name.lowercased()
            if HopByHop.isHopByHop(name) || connectionNamed.contains(name) || rewrittenRequestFields.contains(name) { continue }
            if !trustedPeer, poisoningVectors.contains(name) { continue }
            if also.contains(name) { continue }
            fields.append(HTTPField(name: header.name, value: header.value))
        }
        return fields
    }

    /// Converts fields to NIO's header type for a client: fields paca keeps for itself
    /// (`Paca-Cache-Control`, `CacheEntry.isWithheld`) stay behind, as on a hit.
    static func httpHeaders(_ fields: [HTTPField]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 2)
        for field in fields where !CacheEntry.isWithheld(field.name) { headers.add(name: field.name, value: field.value) }
        return headers
    }
}
