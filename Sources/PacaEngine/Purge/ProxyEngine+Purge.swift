import Foundation
import PacaCore
import PacaStorage

extension ProxyEngine {
    /// What a purge did, tier by tier.
    public struct PurgeReport: Sendable, Equatable {
        /// L1 entries removed (or marked stale, or with `dryRun` that would be).
        public var memory: Int
        /// L2 entries removed or counted; `nil` when there is no L2 or it is handled through the
        /// ban when read (tags: L2's index does not know them).
        public var disk: Int?
        /// Tiers whose entries are dropped (or marked stale) when next read, by the ban.
        public var onRead: [String]
        /// Fills in flight that can no longer land.
        public var fillsAbandoned: Int
        /// The ban recorded (none on a dry run).
        public var ban: Ban?
    }

    /// Why a purge request was refused.
    public struct PurgeError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong.
        public var message: String
        public var description: String { message }
    }

    /// What an admin purge names, as the admin API receives it: exactly one of `pattern`
    /// (`match` glob over `path?keyed-query`), `regex`, `url` (a path or absolute URL; every
    /// variant) and `tag`.
    public func purgeTarget(pattern: String?, regex: String?, url: String?, tag: String?) throws(PurgeError) -> PurgeTarget {
        let given = [pattern, regex, url, tag].compactMap { $0 }
        guard given.count == 1 else { throw PurgeError(message: "give exactly one of pattern, regex, url, tag") }
        if let pattern {
            guard pattern.hasPrefix("/") else { throw PurgeError(message: "pattern must start with \"/\" (it matches path?query)") }
            return .pattern(try normalisedPattern(pattern))
        }
        if let regex {
            do {
                _ = try SafeRegex(regex)
            } catch {
                throw PurgeError(message: error.message)
            }
            return .regex(regex)
        }
        if let tag {
            guard !tag.isEmpty, !tag.contains(where: { $0 == " " || $0 == "," }) else {
                throw PurgeError(message: "a tag is one non-empty word without spaces or commas")
            }
            return .tag(tag)
        }
        return .url(primaryKey: try primaryKey(forURL: url ?? ""))
    }

    /// Purges what `target` names from every tier: L1 and L2's index at once (soft: L1 entries
    /// marked stale), the rest through a ban checked whenever an entry is read from below or a
    /// fill would land. `dryRun` only counts.
    public func purge(_ target: PurgeTarget, soft: Bool = false, dryRun: Bool = false) async throws(PurgeError) -> PurgeReport {
        let now = clock.now()
        let ban = Ban(
            id: UUID().uuidString, target: target, at: now, soft: soft,
            expires: max(now, longestStorageExpiry.load(ordering: .relaxed)) + 1)
        let matcher: BanMatcher
        do {
            matcher = try BanMatcher(ban)
        } catch {
            throw PurgeError(message: error.message)
        }
        if !dryRun {
            do {
                try bans.add(ban)
            } catch {
                throw PurgeError(message: error.message)
            }
        }
        // L1 in one pass (vary markers are bookkeeping: removed with their URL, never counted or
        // marked stale).
        let memoryCount: Int
        if soft {
            memoryCount = memory.purge(
                where: { !$0.isVaryMarker && matcher.matches(key: $0.key, fields: $0.headers) }, replace: { $0.markedStale(at: now) },
                dryRun: dryRun)
        } else {
            memoryCount = memory.purge(where: { matcher.matches(key: $0.key, fields: $0.headers) }, dryRun: dryRun)
        }
        var report = PurgeReport(memory: memoryCount, disk: nil, onRead: [], fillsAbandoned: 0, ban: dryRun ? nil : ban)
        let keyOnly: @Sendable (String) -> Bool = { key in matcher.matches(key: key, fields: []) }
        for tier in cache.lowerTiers {
            if let disk = tier as? DiskCache {
                if case .tag = target {
                    report.onRead.append(disk.name)
                } else if dryRun || soft {
                    report.disk = await disk.count(where: keyOnly)
                    if soft { report.onRead.append(disk.name) }
                } else {
                    report.disk = await disk.removeAll(where: keyOnly, waitingForFiles: false)
                }
            } else {
                report.onRead.append(tier.name)
            }
        }
        if !dryRun {
            if case .url(let primaryKey) = target {
                report.fillsAbandoned = coalescer.abandon(
                    where: { $0 == primaryKey || $0.hasPrefix(primaryKey + "|v:") }, with: .uncacheable)
            } else if case .tag = target {
                // A fill's tags are known only when it lands; the ban stops it there.
            } else {
                report.fillsAbandoned = coalescer.abandon(where: keyOnly, with: .uncacheable)
            }
            statistics.invalidations.increment()
            bans.expire(now: now)
            publish(ban)
        }
        return report
    }

    /// Applies a ban made on another node (read from the shared ban set): recorded, L1 purged at
    /// once (soft: marked stale), fills in flight abandoned; L2 and L3 are checked on read.
    /// Returns `false` for a ban already known.
    @discardableResult
    public func applyRemoteBan(_ ban: Ban) -> Bool {
        // Another node's clock may run behind ours: what we fetched before we learned of the ban
        // counts as older than it, so skew can cost a refetch but never serve a purged entry.
        var ban = ban
        ban.at = max(ban.at, clock.now())
        guard let matcher = try? BanMatcher(ban), (try? bans.add(ban)) == true else { return false }
        if ban.soft {
            memory.purge(
                where: { !$0.isVaryMarker && matcher.matches(key: $0.key, fields: $0.headers) }, replace: { $0.markedStale(at: ban.at) })
        } else {
            memory.purge(where: { matcher.matches(key: $0.key, fields: $0.headers) })
        }
        coalescer.abandon(where: { matcher.matches(key: $0, fields: []) }, with: .uncacheable)
        return true
    }

    /// Sets what is told of every ban made here (admin purges and unsafe methods), so it can be
    /// shared with other nodes.
    public func setBanPublisher(_ publisher: @escaping @Sendable (Ban) -> Void) {
        banPublisher.withLock { $0 = publisher }
    }

    func publish(_ ban: Ban) {
        banPublisher.withLock { $0 }?(ban)
    }

    /// The primary key of a URL given to a purge (`/path?query` or `http://host/path?query`),
    /// under the route that serves it.
    func primaryKey(forURL url: String) throws(PurgeError) -> String {
        var target = url
        var clientHost: String?
        for scheme in ["http://", "https://"] where url.lowercased().hasPrefix(scheme) {
            let rest = url.dropFirst(scheme.count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            clientHost = String(rest[..<slash]).lowercased()
            target = slash == rest.endIndex ? "/" : String(rest[slash...])
        }
        guard target.hasPrefix("/") else { throw PurgeError(message: "url must be a path or an http(s) URL") }
        guard let parsed = try? RequestTarget.parse(target) else { throw PurgeError(message: "url is not a valid request target") }
        guard let route = routes.route(for: parsed.path) else { throw PurgeError(message: "no route serves \(parsed.path)") }
        let host = route.preserveHost ? (clientHost ?? route.origin.authority) : route.origin.authority
        let keyed = CacheKeyBuilder.keyedQuery(parsed.query, rule: route.keyQuery)
        return CacheKeyBuilder.key(route: route, host: host, path: parsed.path, keyedQuery: keyed)
    }

    /// A purge pattern in the form keys take (RFC 3986 §6.2.2 normalisation, as for requests),
    /// so `/caf%c3%a9/*` and `/caf%C3%A9/*` name the same entries; `*` passes through.
    func normalisedPattern(_ pattern: String) throws(PurgeError) -> String {
        guard let parsed = try? RequestTarget.parse(pattern) else {
            throw PurgeError(message: "pattern is not a valid path (bad percent-encoding?)")
        }
        guard let query = parsed.query else { return parsed.path }
        return parsed.path + "?" + query
    }
}
