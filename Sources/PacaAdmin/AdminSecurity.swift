public import NIOHTTP1

/// Who may use the admin API (DESIGN.md §3, "Admin security"): a bearer token compared in
/// constant time, and — even on loopback — only requests whose `Host` is the admin listener and
/// whose `Origin`, when present, is too, so a web page cannot purge through DNS rebinding or CSRF.
public struct AdminSecurity: Sendable {
    /// Why a configuration cannot be served.
    public enum SetupError: Error, Equatable, CustomStringConvertible {
        /// The token is shorter than 16 bytes.
        case tokenTooShort(Int)
        /// A non-loopback address without a token.
        case unprotectedPublicListener(String)

        public var description: String {
            switch self {
            case .tokenTooShort(let length):
                "admin token is \(length) bytes; at least 16 are required"
            case .unprotectedPublicListener(let host):
                "admin.listen \(host) is not a loopback address: set admin.token_env to a token of at least 16 bytes"
            }
        }
    }

    /// What a request may do.
    public enum Verdict: Sendable, Equatable {
        /// Go on.
        case allowed
        /// 401: no or wrong token.
        case unauthorized
        /// 403: a foreign `Host` or a cross-site `Origin`.
        case forbidden(String)
    }

    /// The bearer token, when one is set.
    let token: [UInt8]?
    /// Host names the listener answers to (lower-cased, without port).
    let allowedHosts: Set<String>
    /// The listener's port (a `Host` must carry it or none). Port 0 (chosen at bind, as in tests)
    /// accepts any port: the host name is what stops DNS rebinding.
    let port: Int

    /// Checks the settings: a token of at least 16 bytes; no token only on loopback.
    public init(token: String?, listenHost: String, port: Int) throws(SetupError) {
        if let token, token.utf8.count < 16 { throw .tokenTooShort(token.utf8.count) }
        let loopback = Self.isLoopback(listenHost)
        if token == nil, !loopback { throw .unprotectedPublicListener(listenHost) }
        self.token = token.map { Array($0.utf8) }
        var hosts: Set<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
        if !loopback, listenHost != "0.0.0.0", listenHost != "::" { hosts.insert(listenHost.lowercased()) }
        if listenHost == "0.0.0.0" || listenHost == "::" {
            // Any address of the machine: the token is what protects it; Host is still checked
            // against names that cannot be an attacker's (no DNS name resolves to our check).
            hosts.insert("*")
        }
        self.allowedHosts = hosts
        self.port = port
    }

    /// Whether `host` is a loopback address or `localhost`.
    public static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased()
        return lower == "localhost" || lower.hasPrefix("127.") || lower == "::1" || lower == "[::1]"
    }

    /// Whether `headers` may use `path`: `/healthz` needs nothing; everything else a matching
    /// `Host`, a same-origin or absent `Origin`, and (except the static `/dashboard` page) the
    /// token when one is set.
    public func verdict(path: String, headers: HTTPHeaders) -> Verdict {
        if path == "/healthz" { return .allowed }
        guard let host = headers.first(name: "host"), hostAllowed(host) else { return .forbidden("foreign Host") }
        if let origin = headers.first(name: "origin") {
            guard originAllowed(origin, host: host) else { return .forbidden("cross-site Origin") }
        }
        // The dashboard is a static page with no data in it: a browser cannot send a header when it
        // navigates, so the page loads without the token and sends it with each /stats request.
        guard let token, path != "/dashboard" else { return .allowed }
        guard let given = headers.first(name: "authorization"), given.count > 7, given.lowercased().hasPrefix("bearer ") else {
            return .unauthorized
        }
        return Self.constantTimeEqual(Array(given.utf8.dropFirst(7)), token) ? .allowed : .unauthorized
    }

    func hostAllowed(_ value: String) -> Bool {
        let (name, port) = Self.split(value.lowercased())
        // Port 0 binds a free port (tests, ephemeral listeners): the name check still holds.
        if let port, self.port != 0, port != self.port { return false }
        if allowedHosts.contains("*") {
            // Bound to every address: an IP literal is one of ours; a name is only `localhost`.
            return allowedHosts.contains(name) || name.allSatisfy { $0.isNumber || $0 == "." } || name.hasPrefix("[")
        }
        return allowedHosts.contains(name)
    }

    func originAllowed(_ origin: String, host: String) -> Bool {
        let lower = origin.lowercased()
        guard lower.hasPrefix("http://") else { return false }
        return String(lower.dropFirst("http://".count)) == host.lowercased()
    }

    /// `name[:port]` or `[v6][:port]`.
    static func split(_ value: String) -> (String, Int?) {
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return (value, nil) }
            let name = String(value[...close])
            let rest = value[value.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = value.lastIndex(of: ":") else { return (value, nil) }
        return (String(value[..<colon]), Int(value[value.index(after: colon)...]) ?? -1)
    }

    /// Compares without stopping at the first difference, so timing says nothing of the token.
    static func constantTimeEqual(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: given.count ^ expected.count)
        for index in 0..<expected.count {
            let byte = index < given.count ? given[index] : 0
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }
}
