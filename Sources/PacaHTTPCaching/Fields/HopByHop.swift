/// Hop-by-hop header fields (RFC 9110 §7.6.1) as paca treats them: never forwarded, never stored.
///
/// paca's design also counts every `Proxy-*` field as hop-by-hop, so the prefix check is part
/// of `isHopByHop(_:)`.
public enum HopByHop: Sendable {
    /// The fixed hop-by-hop names, lowercased: `connection`, `keep-alive`, `proxy-connection`,
    /// `te`, `trailer`, `transfer-encoding`, `upgrade`.
    public static let fixedNames: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Whether a lowercased field name is hop-by-hop by itself (fixed list or `proxy-` prefix).
    /// Names listed in a `Connection` field are found with `names(in:)`.
    public static func isHopByHop(_ lowercasedName: String) -> Bool {
        fixedNames.contains(lowercasedName) || lowercasedName.hasPrefix("proxy-")
    }

    /// Every lowercased field name in `headers` that must be treated as hop-by-hop: the fixed
    /// names and `Proxy-*` fields present, plus every name listed in `Connection` lines.
    public static func names(in headers: [HTTPField]) -> Set<String> {
        var result: Set<String> = []
        for field in headers {
            let name = ASCII.lowercased(field.name)
            if isHopByHop(name) { result.insert(name) }
        }
        for member in headers.listMembers("connection") {
            let name = ASCII.lowercased(member)
            if HTTPToken.isToken(name) { result.insert(name) }
        }
        return result
    }
}
