import NIOHTTP1
import Testing

@testable import PacaServer

/// Issue 11, class 12: the `Host` rules of RFC 9112 §3.2, on the pure check.
@Suite("HostFieldCheck")
struct HostFieldCheckTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rfc: String
        let hosts: [String]
        var version = HTTPVersion.http1_1
        let refused: Bool
        var testDescription: String { "RFC \(rfc): Host \(hosts) over \(version) → \(refused ? "400" : "accepted")" }
    }

    static let cases: [Case] = [
        Case(rfc: "9110 §7.2", hosts: ["example.com"], refused: false),
        Case(rfc: "9110 §7.2", hosts: ["example.com:8080"], refused: false),
        Case(rfc: "9110 §7.2", hosts: ["127.0.0.1:80"], refused: false),
        Case(rfc: "3986 §3.2.2", hosts: ["[::1]"], refused: false),
        Case(rfc: "3986 §3.2.2", hosts: ["[::1]:443"], refused: false),
        Case(rfc: "3986 §3.2.2", hosts: ["xn--caf-dma.example"], refused: false),
        Case(rfc: "3986 §3.2.2", hosts: ["a%41b"], refused: false),
        Case(rfc: "9110 §7.2", hosts: [""], refused: false),
        Case(rfc: "9110 §7.2", hosts: ["example.com:"], refused: false),
        Case(rfc: "9112 §3.2", hosts: [], version: .http1_0, refused: false),
        Case(rfc: "9112 §3.2", hosts: [], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a", "b"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a", "a"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a/b"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a b"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["u@a"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a:80x"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a:80:90"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["[::1"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["[::1]x"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["[]"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["caf\u{E9}.example"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a%4"], refused: true),
        Case(rfc: "9112 §3.2", hosts: ["a\\b"], refused: true),
    ]

    @Test("Host field rules", arguments: cases)
    func host(_ c: Case) {
        var headers = HTTPHeaders()
        for host in c.hosts { headers.add(name: "Host", value: host) }
        let head = HTTPRequestHead(version: c.version, method: .GET, uri: "/", headers: headers)
        #expect((HostFieldCheck.problem(head) != nil) == c.refused, "RFC \(c.rfc)")
    }

    @Test("every byte value: a reg-name or IP-literal byte is exactly unreserved or a sub-delim (RFC 3986 §2.2, §2.3)")
    func everyByte() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=".utf8)
        for value in 0...255 {
            let byte = UInt8(value)
            let inName = [UInt8(ascii: "a"), byte, UInt8(ascii: "b")]
            let inLiteral = [UInt8(ascii: "["), byte, UInt8(ascii: "]")]
            let expected = allowed.contains(byte)
            // In a name a `:` starts the port, and `b` is no port.
            #expect(inName.withUnsafeBytes { HostFieldCheck.isValidHost(bytes: $0) } == expected, "byte \(value) in a name")
            #expect(
                inLiteral.withUnsafeBytes { HostFieldCheck.isValidHost(bytes: $0) } == (expected || byte == UInt8(ascii: ":")),
                "byte \(value) in a literal")
        }
    }
}
