import PacaHTTPCaching
import Testing

struct InvalidationCase: CustomTestStringConvertible, Sendable {
    let rfc = "9111 §4.4"
    let note: String
    var method = "POST"
    var status = 200
    var path = "/api/users/1"
    var location: String? = nil
    var contentLocation: String? = nil
    let expected: [String]
    var testDescription: String { "RFC \(rfc): \(note)" }
}

let invalidationCases: [InvalidationCase] = [
    InvalidationCase(note: "POST 200 invalidates the request path", expected: ["/api/users/1"]),
    InvalidationCase(note: "PUT 204", method: "PUT", status: 204, expected: ["/api/users/1"]),
    InvalidationCase(note: "DELETE 302", method: "DELETE", status: 302, expected: ["/api/users/1"]),
    InvalidationCase(note: "PATCH and unknown methods are unsafe", method: "PURGEX", expected: ["/api/users/1"]),
    InvalidationCase(note: "GET never invalidates", method: "GET", expected: []),
    InvalidationCase(note: "HEAD/OPTIONS/TRACE are safe", method: "OPTIONS", expected: []),
    InvalidationCase(note: "error status does not invalidate", status: 500, expected: []),
    InvalidationCase(note: "404 does not invalidate", status: 404, expected: []),
    InvalidationCase(
        note: "absolute Location on the same authority", location: "http://api.example:8080/api/users",
        expected: ["/api/users/1", "/api/users"]),
    InvalidationCase(note: "Location on another host is ignored", location: "http://evil.example/api/users", expected: ["/api/users/1"]),
    InvalidationCase(
        note: "relative Location resolves against the path", location: "2?x=1#frag", expected: ["/api/users/1", "/api/users/2?x=1"]),
    InvalidationCase(note: "dot segments are removed", location: "../groups/./7", expected: ["/api/users/1", "/api/groups/7"]),
    InvalidationCase(
        note: "Content-Location absolute path", contentLocation: "/api/users/1.json", expected: ["/api/users/1", "/api/users/1.json"]),
    InvalidationCase(
        note: "duplicates removed", location: "/api/users/1", contentLocation: "HTTP://API.EXAMPLE:8080/api/users/1",
        expected: ["/api/users/1"]),
    InvalidationCase(note: "network-path reference on another authority", location: "//other:8080/x", expected: ["/api/users/1"]),
    InvalidationCase(note: "non-http scheme ignored", location: "mailto:a@b", expected: ["/api/users/1"]),
    InvalidationCase(note: "authority with no path becomes /", location: "https://api.example:8080", expected: ["/api/users/1", "/"]),
    InvalidationCase(note: "request query kept", path: "/s?q=1", expected: ["/s?q=1"]),
]

@Test("Invalidation after unsafe methods", arguments: invalidationCases)
func invalidation(_ c: InvalidationCase) {
    let t = invalidationTargets(
        method: c.method, status: c.status, requestPath: c.path, requestAuthority: "api.example:8080",
        location: c.location, contentLocation: c.contentLocation)
    #expect(t == c.expected, "RFC \(c.rfc)")
}

@Test("Default ports are equivalent (RFC 9111 §4.4)")
func defaultPorts() {
    let t = invalidationTargets(
        method: "POST", status: 201, requestPath: "/a", requestAuthority: "Example.com",
        location: "http://example.com:80/b", contentLocation: "https://example.com:443/c")
    #expect(t == ["/a", "/b", "/c"])
}
