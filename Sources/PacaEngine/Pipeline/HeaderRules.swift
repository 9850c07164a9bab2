import NIOHTTP1
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

    /// Every request field but the hop-by-hop ones, `Host` and `Content-Length` (libcurl sets
    /// those), and the forwarding fields paca rewrites: for requests that are not cached.
    static func passThroughRequestFields(_ headers: HTTPHeaders) -> [HTTPField] {
        var fields = headers.map { HTTPField(name: $0.name, value: $0.value) }
        var drop = HopByHop.names(in: fields)
        drop.formUnion(["host", "content-length", "via", "x-forwarded-for", "forwarded", "x-forwarded-host", "x-forwarded-proto"])
        fields = fields.removing(drop)
        return fields
    }

    /// Converts fields to NIO's header type.
    static func httpHeaders(_ fields: [HTTPField]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 2)
        for field in fields { headers.add(name: field.name, value: field.value) }
        return headers
    }
}
