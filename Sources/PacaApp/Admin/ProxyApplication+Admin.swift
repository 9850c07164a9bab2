import Foundation
import PacaAdmin
import PacaEngine

extension ProxyApplication {
    /// `POST /purge`: `{"pattern"|"regex"|"url"|"tag": …, "soft": bool, "dry_run": bool}`.
    static func purge(_ body: [String: Any], engine: ProxyEngine) async -> Result<String, AdminError> {
        let known: Set<String> = ["pattern", "regex", "url", "tag", "soft", "dry_run"]
        if let unknown = body.keys.first(where: { !known.contains($0) }) {
            return .failure(AdminError(.badRequest, "unknown field \"\(unknown)\"; expected pattern, regex, url or tag, and soft, dry_run"))
        }
        func string(_ name: String) -> Result<String?, AdminError> {
            guard let value = body[name] else { return .success(nil) }
            guard let text = value as? String else { return .failure(AdminError(.badRequest, "\(name) must be a string")) }
            return .success(text)
        }
        func flag(_ name: String) -> Result<Bool, AdminError> {
            guard let value = body[name] else { return .success(false) }
            guard let bool = value as? Bool else { return .failure(AdminError(.badRequest, "\(name) must be true or false")) }
            return .success(bool)
        }
        do {
            let target = try engine.purgeTarget(
                pattern: try string("pattern").get(), regex: try string("regex").get(), url: try string("url").get(),
                tag: try string("tag").get())
            let soft = try flag("soft").get()
            let dryRun = try flag("dry_run").get()
            let report = try await engine.purge(target, soft: soft, dryRun: dryRun)
            var tiers: [String: Any] = ["l1": report.memory]
            if let disk = report.disk { tiers["l2"] = disk }
            var document: [String: Any] = [
                "purged": report.memory + (report.disk ?? 0), "tiers": tiers, "on_read": report.onRead, "soft": soft, "dry_run": dryRun,
                "fills_abandoned": report.fillsAbandoned,
            ]
            if let ban = report.ban { document["ban"] = ["id": ban.id, "at": ban.at, "expires": ban.expires] }
            return .success(json(document))
        } catch let error as AdminError {
            return .failure(error)
        } catch let error as ProxyEngine.PurgeError {
            return .failure(AdminError(.badRequest, error.message))
        } catch {
            return .failure(AdminError(.badRequest, "\(error)"))
        }
    }

    /// `GET /routes`: each route's effective rules (no secrets: routes hold none; the Redis URL
    /// is redacted).
    static func routesJSON(_ configuration: PacaConfiguration) -> String {
        let routes: [[String: Any]] = configuration.routes.map { route in
            var object: [String: Any] = [
                "name": route.name, "match": route.match.pattern,
                "origin": route.origin.schemeAndAuthority + route.origin.basePath, "cache": route.cache,
                "ttl_source": route.policy.ttlSource.rawValue, "forward": route.forward.rawValue, "preserve_host": route.preserveHost,
                "strip_cookies": route.stripCookies, "key_headers": route.keyedHeaderNames,
                "timeout_ms": route.timeout.milliseconds, "connect_timeout_ms": route.connectTimeout.milliseconds,
            ]
            if let ttl = route.policy.ttl { object["ttl_s"] = ttl }
            if let maxTTL = route.policy.maxTTL { object["max_ttl_s"] = maxTTL }
            if let swr = route.policy.staleWhileRevalidate { object["stale_while_revalidate_s"] = swr }
            if let sie = route.policy.staleIfError { object["stale_if_error_s"] = sie }
            if let methods = route.methods { object["methods"] = methods.sorted() }
            switch route.keyQuery {
            case .all: object["key_query"] = "all"
            case .include(let names): object["key_query"] = ["include": names.sorted()]
            case .exclude(let names): object["key_query"] = ["exclude": names.sorted()]
            }
            return object
        }
        var document: [String: Any] = ["file": configuration.file, "routes": routes]
        if let redis = configuration.redis {
            if let seeds = redis.cluster {
                document["l3"] = ["cluster": seeds, "namespace": redis.namespace] as [String: Any]
            } else {
                document["l3"] = ["url": RedactedURL.redact(redis.url), "namespace": redis.namespace]
            }
        }
        return json(document)
    }

    static func json(_ object: Any) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Hides the password of a `redis://` URL.
enum RedactedURL {
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url.range(of: "@", range: schemeEnd.upperBound..<url.endIndex) else {
            return url
        }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at.lowerBound...])
    }
}
