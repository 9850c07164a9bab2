public import PacaCore
import PacaHTTPCaching

/// What a purge names (DESIGN.md §1 "Admin API", §3 "Purge is a ban with a time").
public enum PurgeTarget: Sendable, Equatable, Codable {
    /// The `match` glob over `path?keyed-query`, normalised as keys are.
    case pattern(String)
    /// A regular expression over `path?keyed-query`, anchored at both ends, matched in linear
    /// time (`SafeRegex`).
    case regex(String)
    /// Every variant of one URL: its primary key.
    case url(primaryKey: String)
    /// Entries whose `Surrogate-Key` or `Cache-Tag` lists this tag exactly.
    case tag(String)
}

/// A purge recorded with its time: an entry fetched before `at` that the ban matches is dropped
/// (or, `soft`, served only as stale) wherever it is read from, and a fill sent before `at`
/// never lands.
public struct Ban: Sendable, Equatable, Codable {
    /// Unique per ban (bans from other nodes are recognised by it).
    public var id: String
    /// What it matches.
    public var target: PurgeTarget
    /// When it was made (Unix ms).
    public var at: UnixMillis
    /// Mark stale instead of dropping.
    public var soft: Bool
    /// After this no entry it could match is still stored (the longest storage lifetime).
    public var expires: UnixMillis

    /// Creates a ban.
    public init(id: String, target: PurgeTarget, at: UnixMillis, soft: Bool, expires: UnixMillis) {
        self.id = id
        self.target = target
        self.at = at
        self.soft = soft
        self.expires = expires
    }
}

/// A ban compiled for matching.
struct BanMatcher: Sendable {
    let ban: Ban
    private let glob: Glob?
    private let regex: SafeRegex?

    init(_ ban: Ban) throws(SafeRegex.CompileError) {
        self.ban = ban
        switch ban.target {
        case .pattern(let pattern):
            glob = Glob(pattern)
            regex = nil
        case .regex(let pattern):
            glob = nil
            regex = try SafeRegex(pattern)
        case .url, .tag:
            glob = nil
            regex = nil
        }
    }

    /// Whether the ban names the entry under `key` with stored fields `fields`.
    func matches(key: String, fields: [HTTPField]) -> Bool {
        switch ban.target {
        case .pattern:
            guard let target = CacheKeyBuilder.purgeTarget(ofKey: key) else { return false }
            return glob?.matches(target) ?? false
        case .regex:
            guard let target = CacheKeyBuilder.purgeTarget(ofKey: key) else { return false }
            return regex?.matches(target) ?? false
        case .url(let primaryKey):
            return key == primaryKey || key.hasPrefix(primaryKey + "|v:") || key == CacheEntry.partialKey(primaryKey: primaryKey)
        case .tag(let tag):
            return Self.tags(in: fields).contains(tag)
        }
    }

    /// The tags an entry was stored with: `Surrogate-Key` (space-separated, Fastly) and
    /// `Cache-Tag` (comma-separated, Cloudflare) values.
    static func tags(in fields: [HTTPField]) -> Set<String> {
        var tags: Set<String> = []
        for field in fields {
            let name = field.name.lowercased()
            if name == "surrogate-key" {
                for tag in field.value.split(whereSeparator: { $0 == " " || $0 == "\t" }) { tags.insert(String(tag)) }
            } else if name == "cache-tag" {
                for tag in field.value.split(separator: ",") {
                    let trimmed = tag.trimmingSpaces()
                    if !trimmed.isEmpty { tags.insert(String(trimmed)) }
                }
            }
        }
        return tags
    }
}
