import NIOHTTP1
import Testing

@testable import PacaAdmin

@Suite("Admin security")
struct AdminSecurityTests {
    static let token = "0123456789abcdef-token"

    static func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

    @Test("a token shorter than 16 bytes is refused at start")
    func shortToken() {
        #expect(throws: AdminSecurity.SetupError.tokenTooShort(5)) {
            _ = try AdminSecurity(token: "short", listenHost: "127.0.0.1", port: 9090)
        }
    }

    @Test("a non-loopback listener without a token is refused at start; with one it is allowed")
    func publicListenerNeedsToken() throws {
        #expect(throws: AdminSecurity.SetupError.unprotectedPublicListener("0.0.0.0")) {
            _ = try AdminSecurity(token: nil, listenHost: "0.0.0.0", port: 9090)
        }
        _ = try AdminSecurity(token: Self.token, listenHost: "0.0.0.0", port: 9090)
        _ = try AdminSecurity(token: nil, listenHost: "127.0.0.1", port: 9090)
    }

    @Test(
        "a missing, wrong or truncated token is 401; the right one passes",
        arguments: [
            ([("Host", "127.0.0.1:9090")], AdminSecurity.Verdict.unauthorized),
            ([("Host", "127.0.0.1:9090"), ("Authorization", "Bearer wrong-token-wrong-token")], .unauthorized),
            ([("Host", "127.0.0.1:9090"), ("Authorization", "Bearer 0123456789abcdef-toke")], .unauthorized),
            ([("Host", "127.0.0.1:9090"), ("Authorization", "Bearer 0123456789abcdef-token-and-more")], .unauthorized),
            ([("Host", "127.0.0.1:9090"), ("Authorization", "Basic 0123456789abcdef-token")], .unauthorized),
            ([("Host", "127.0.0.1:9090"), ("Authorization", "Bearer 0123456789abcdef-token")], .allowed),
            ([("Host", "localhost:9090"), ("Authorization", "bearer 0123456789abcdef-token")], .allowed),
        ])
    func tokens(pairs: [(String, String)], expected: AdminSecurity.Verdict) throws {
        let security = try AdminSecurity(token: Self.token, listenHost: "127.0.0.1", port: 9090)
        #expect(security.verdict(path: "/stats", headers: Self.headers(pairs)) == expected)
    }

    @Test(
        "a foreign Host or a cross-site Origin is refused even with the token and on loopback",
        arguments: [
            [("Host", "evil.example:9090")],
            [("Host", "evil.example")],
            [("Host", "127.0.0.1:9091")],
            [("Host", "127.0.0.1:9090"), ("Origin", "http://evil.example")],
            [("Host", "127.0.0.1:9090"), ("Origin", "null")],
            [("Host", "127.0.0.1:9090"), ("Origin", "https://127.0.0.1:9090")],
            [],
        ])
    func foreignHostsAndOrigins(pairs: [(String, String)]) throws {
        let security = try AdminSecurity(token: Self.token, listenHost: "127.0.0.1", port: 9090)
        let verdict = security.verdict(path: "/purge", headers: Self.headers(pairs + [("Authorization", "Bearer \(Self.token)")]))
        guard case .forbidden = verdict else {
            Issue.record("expected forbidden, got \(verdict)")
            return
        }
    }

    @Test("a same-origin request passes; /healthz needs nothing")
    func sameOriginAndHealth() throws {
        let security = try AdminSecurity(token: Self.token, listenHost: "127.0.0.1", port: 9090)
        let sameOrigin = Self.headers([
            ("Host", "127.0.0.1:9090"), ("Origin", "http://127.0.0.1:9090"), ("Authorization", "Bearer \(Self.token)"),
        ])
        #expect(security.verdict(path: "/stats", headers: sameOrigin) == .allowed)
        #expect(security.verdict(path: "/healthz", headers: Self.headers([("Host", "evil.example")])) == .allowed)
    }

    @Test("token comparison does not depend on where the first difference is")
    func constantTime() {
        let expected = Array(Self.token.utf8)
        #expect(AdminSecurity.constantTimeEqual(expected, expected))
        #expect(!AdminSecurity.constantTimeEqual(Array("x123456789abcdef-token".utf8), expected))
        #expect(!AdminSecurity.constantTimeEqual(Array("0123456789abcdef-tokex".utf8), expected))
        #expect(!AdminSecurity.constantTimeEqual([], expected))
    }
}
