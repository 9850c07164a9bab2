/// Where an L3 Redis server is and how to log in: the parsed form of
/// `redis://[[user]:password@]host[:port][/db]`.
///
/// The description never shows the password, so a `RedisURL` may be logged as it is.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address (an IPv6 address without its brackets).
    public var host: String
    /// TCP port; default 6379.
    public var port: Int
    /// ACL user name for `AUTH user password` (Redis 6+); `nil` for the classic `AUTH password`.
    public var username: String?
    /// The password sent with `AUTH`; `nil` when the server needs none.
    public var password: String?
    /// The logical database chosen with `SELECT`; default 0.
    public var database: Int

    /// Creates an endpoint from its parts.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`. The password may be percent-encoded.
    /// Throws a `RedisURLError` that names what is wrong and never contains the password.
    public init(parsing text: String) throws(RedisURLError) {
        let schemeSeparator = "://"
        guard let schemeEnd = text.firstRange(of: schemeSeparator) else { throw .missingScheme }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" else { throw .unsupportedScheme(scheme) }
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.contains("?") || rest.contains("#") { throw .unexpectedQueryOrFragment }

        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = userinfo[..<colon]
                username = user.isEmpty ? nil : try Self.percentDecoded(user, part: "user name")
                password = try Self.percentDecoded(userinfo[userinfo.index(after: colon)...], part: "password")
            } else {
                // `redis://secret@host` is a common mistake for `redis://:secret@host`; both
                // mean a password here, as redis-cli reads it.
                password = try Self.percentDecoded(userinfo, part: "password")
            }
            if password?.isEmpty == true { password = nil }
        }

        var authority = rest
        var databaseText: Substring?
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            databaseText = rest[rest.index(after: slash)...]
        }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidHost(String(authority)) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidHost(String(authority)) }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .missingHost }
        guard !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) else { throw .invalidHost(String(host)) }

        var port = 6379
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw .invalidPort(String(portText)) }
            port = value
        }
        var database = 0
        if let databaseText, !databaseText.isEmpty {
            guard let value = Int(databaseText), value >= 0 else { throw .invalidDatabase(String(databaseText)) }
            database = value
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// `redis://[user:***@]host:port/db`: the password is always redacted.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let credentials = password == nil ? (username.map { "\($0)@" } ?? "") : "\(username ?? ""):***@"
        return "redis://\(credentials)\(hostPart):\(port)/\(database)"
    }

    private static func percentDecoded(_ text: Substring, part: String) throws(RedisURLError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                throw .invalidPercentEncoding(part: part)
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .invalidPercentEncoding(part: part) }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why an L3 Redis URL or its password source was refused. Messages name the part that is wrong
/// and never contain the password.
public enum RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No `scheme://` at the start.
    case missingScheme
    /// A scheme other than `redis` (`rediss` — TLS — is not supported).
    case unsupportedScheme(String)
    /// Nothing between `://` (or `@`) and the port or path.
    case missingHost
    /// A host that cannot be one (unbalanced brackets, spaces).
    case invalidHost(String)
    /// A port that is not an integer in 1...65535.
    case invalidPort(String)
    /// A database that is not a non-negative integer.
    case invalidDatabase(String)
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8, in `part`.
    case invalidPercentEncoding(part: String)
    /// A `?query` or `#fragment`, which Redis URLs here do not take.
    case unexpectedQueryOrFragment
    /// `passwordEnvironmentVariable` names a variable that is not set.
    case passwordEnvironmentVariableUnset(String)

    /// One line saying what is wrong.
    public var description: String {
        switch self {
        case .missingScheme: "Redis URL must start with redis://"
        case .unsupportedScheme(let scheme): "Redis URL scheme '\(scheme)' is not supported (use redis://)"
        case .missingHost: "Redis URL has no host"
        case .invalidHost(let host): "Redis URL host '\(host)' is not valid"
        case .invalidPort(let port): "Redis URL port '\(port)' is not a number in 1...65535"
        case .invalidDatabase(let database): "Redis URL database '\(database)' is not a non-negative integer"
        case .invalidPercentEncoding(let part): "Redis URL \(part) has a bad percent-encoding"
        case .unexpectedQueryOrFragment: "Redis URL must not have a query or fragment"
        case .passwordEnvironmentVariableUnset(let name): "environment variable \(name) (Redis password) is not set"
        }
    }
}
