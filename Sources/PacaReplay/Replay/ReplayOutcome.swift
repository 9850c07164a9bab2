/// What a cache did with one replayed request, read from the answer's `Cache-Status`.
public enum ReplayOutcome: String, Sendable, CaseIterable, Codable {
    /// A fresh hit in the memory tier (`paca; hit; …; detail=l1`).
    case l1
    /// A fresh hit on disk (`detail=l2`).
    case l2
    /// A fresh hit in Redis (`detail=l3`).
    case l3
    /// A hit served stale (`hit` with a negative `ttl`).
    case stale
    /// A miss that waited on another request's fetch (`collapsed`): it cost no origin fetch of
    /// its own, so it counts as a hit.
    case collapsed
    /// Forwarded to the origin (`fwd=uri-miss`, `vary-miss`, `stale`, `request`, `method`…).
    case miss
    /// Passed to the origin by rule (`fwd=bypass`): counted apart from misses.
    case bypass
    /// No `Cache-Status`, or a member that says neither `hit` nor `fwd`.
    case unknown

    /// Whether the answer came from the cache without an origin fetch of its own.
    public var isHit: Bool {
        switch self {
        case .l1, .l2, .l3, .stale, .collapsed: true
        case .miss, .bypass, .unknown: false
        }
    }

    /// Whether the request cost an origin fetch.
    public var isOriginFetch: Bool { self == .miss || self == .bypass }

    /// Classifies the `Cache-Status` field values of one answer (several fields are joined as a
    /// list). The member named `paca` is read when there is one, else the last member (the cache
    /// nearest the client, RFC 9211 §2), so replays against other caches still count hits.
    public static func classify(cacheStatus values: [String]) -> ReplayOutcome {
        let members = values.flatMap { $0.split(separator: ",") }.map(CacheStatusMember.init)
        guard let member = members.last(where: { $0.name == "paca" }) ?? members.last else { return .unknown }
        if member.has("hit") {
            if let ttl = member.value("ttl").flatMap({ Int($0) }), ttl < 0 { return .stale }
            switch member.value("detail") {
            case "l1": return .l1
            case "l2": return .l2
            case "l3": return .l3
            default: return .l1
            }
        }
        guard let forward = member.value("fwd") else { return .unknown }
        if forward == "bypass" { return .bypass }
        return member.has("collapsed") ? .collapsed : .miss
    }
}

/// One member of a `Cache-Status` list: `name; key; key=value; …` (quotes around values dropped).
struct CacheStatusMember {
    let name: String
    let parameters: [(key: String, value: String?)]

    init(_ text: Substring) {
        let parts = text.split(separator: ";").map { $0.trimmingSpaces() }
        var name = parts.first ?? ""
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        self.name = name
        self.parameters = parts.dropFirst().map { part in
            guard let equals = part.firstIndex(of: "=") else { return (part.lowercased(), nil) }
            var value = String(part[part.index(after: equals)...])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (part[..<equals].lowercased(), value)
        }
    }

    func has(_ key: String) -> Bool { parameters.contains { $0.key == key } }

    func value(_ key: String) -> String? { parameters.first { $0.key == key }?.value ?? nil }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
