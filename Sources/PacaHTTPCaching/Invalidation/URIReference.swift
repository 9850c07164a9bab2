/// Minimal URI-reference handling for invalidation (RFC 3986 §4–5), enough for paths.
enum URIReference {
    static func stripFragment(_ s: String) -> String {
        if let i = s.firstIndex(of: "#") { return String(s[..<i]) }
        return s
    }

    /// The path (with query) of `ref` when it stays on `authority`, else `nil`.
    static func sameOriginPath(_ raw: String, base: String, authority: String) -> String? {
        let ref = stripFragment(raw)
        guard !ref.isEmpty, !ref.contains(where: { $0 == " " || $0 == "\t" }) else { return nil }
        var scheme: String?
        var rest = Substring(ref)
        if let stop = ref.firstIndex(where: { $0 == ":" || $0 == "/" || $0 == "?" }), ref[stop] == ":" {
            let s = ASCII.lowercased(String(ref[..<stop]))
            guard s == "http" || s == "https" else { return nil }
            scheme = s
            rest = ref[ref.index(after: stop)...]
            guard rest.hasPrefix("//") else { return nil }
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterSlashes.endIndex
            let auth = String(afterSlashes[..<end])
            guard sameAuthority(auth, authority, scheme: scheme) else { return nil }
            var pathAndQuery = String(afterSlashes[end...])
            if pathAndQuery.isEmpty || pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
            return normalizeDots(pathAndQuery)
        }
        if rest.hasPrefix("/") { return normalizeDots(String(rest)) }
        // Relative reference: resolve against the base path's directory (query-only refs keep the path).
        let (basePath, _) = splitQuery(base.isEmpty ? "/" : base)
        if rest.hasPrefix("?") { return basePath + rest }
        let dir: Substring
        if let slash = basePath.lastIndex(of: "/") { dir = basePath[...slash] } else { dir = "/" }
        return normalizeDots(String(dir) + rest)
    }

    static func splitQuery(_ s: String) -> (String, String?) {
        guard let q = s.firstIndex(of: "?") else { return (s, nil) }
        return (String(s[..<q]), String(s[s.index(after: q)...]))
    }

    /// Removes `.` and `..` segments (RFC 3986 §5.2.4) from the path part.
    static func normalizeDots(_ s: String) -> String {
        let (path, query) = splitQuery(s)
        var segments: [Substring] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for (i, seg) in parts.enumerated() {
            let last = i == parts.count - 1
            if seg == "." { if last { segments.append("") }; continue }
            if seg == ".." {
                if segments.count > 1 { segments.removeLast() }
                if last { segments.append("") }
                continue
            }
            segments.append(seg)
        }
        var result = segments.joined(separator: "/")
        if !result.hasPrefix("/") { result = "/" + result }
        if let query { result += "?" + query }
        return result
    }

    static func sameAuthority(_ a: String, _ b: String, scheme: String?) -> Bool {
        func norm(_ s: String, _ defaultPorts: [String]) -> String {
            var x = ASCII.lowercased(s)
            if let at = x.lastIndex(of: "@") { x = String(x[x.index(after: at)...]) }
            for p in defaultPorts where x.hasSuffix(":" + p) { x = String(x.dropLast(p.count + 1)) }
            if x.hasSuffix(":") { x = String(x.dropLast()) }
            return x
        }
        let ports: [String]
        switch scheme {
        case "http"?: ports = ["80"]
        case "https"?: ports = ["443"]
        default: ports = ["80", "443"]
        }
        return !a.isEmpty && norm(a, ports) == norm(b, ["80", "443"])
    }
}
