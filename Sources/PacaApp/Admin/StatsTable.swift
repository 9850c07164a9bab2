import Foundation
import PacaCore

/// `paca stats`: the `/stats` document as tables for a terminal.
public enum StatsTable {
    /// Why the document could not be shown.
    public struct Unreadable: Error, CustomStringConvertible {
        /// One line for the terminal.
        public var description: String
    }

    /// Renders `/stats` JSON.
    public static func render(_ json: String) throws(Unreadable) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)), let stats = object as? [String: Any] else {
            throw Unreadable(description: "the admin API's /stats is not a JSON object")
        }
        func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }
        func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }
        func percent(_ value: Any?) -> String { String(format: "%.1f%%", double(value) * 100) }
        func ms(_ value: Any?) -> String { String(format: "%.1f", double(value)) }

        var lines: [String] = []
        let uptime = int(stats["uptime_s"])
        lines.append(
            "requests \(int(stats["requests"]))  hit ratio \(percent(stats["hit_ratio"]))  hits \(int(stats["hits"]))  "
                + "misses \(int(stats["misses"]))  passes \(int(stats["passes"]))  uptime \(uptime / 3600)h\(uptime / 60 % 60)m\(uptime % 60)s"
        )
        let origin = stats["origin"] as? [String: Any] ?? [:]
        let latency = origin["latency_ms"] as? [String: Any] ?? [:]
        let kinds = (origin["errors_by_kind"] as? [String: Any] ?? [:]).filter { int($0.value) > 0 }.sorted { $0.key < $1.key }
        let kindText = kinds.isEmpty ? "" : " (" + kinds.map { "\($0.key) \(int($0.value))" }.joined(separator: ", ") + ")"
        lines.append(
            "origin   fetches \(int(origin["fetches"]))  errors \(int(origin["errors"]))\(kindText)  coalesced \(int(stats["coalesced"]))  "
                + "latency ms p50 \(ms(latency["p50"])) p90 \(ms(latency["p90"])) p99 \(ms(latency["p99"]))")
        lines.append("bans     \(int(stats["bans"]))")
        lines.append("")

        var tierRows = [["tier", "hit ratio", "served", "entries", "bytes", "budget", "p50 µs", "p90 µs", "p99 µs", "state"]]
        let tiers = stats["tiers"] as? [String: Any] ?? [:]
        for name in tiers.keys.sorted() {
            let tier = tiers[name] as? [String: Any] ?? [:]
            let latency = tier["latency_us"] as? [String: Any] ?? [:]
            tierRows.append([
                name, percent(tier["hit_ratio"]), "\(int(tier["served"]))", "\(int(tier["entries"]))",
                HumanUnits.formatBytes(int(tier["bytes"])), tier["budget_bytes"].map { HumanUnits.formatBytes(int($0)) } ?? "-",
                "\(int(latency["p50"]))", "\(int(latency["p90"]))", "\(int(latency["p99"]))", tier["breaker"] as? String ?? "",
            ])
        }
        lines.append(contentsOf: table(tierRows))
        lines.append("")

        var routeRows = [
            ["route", "requests", "hit ratio", "hits", "misses", "passes", "p50 ms", "p99 ms", "origin p50 ms", "origin p99 ms"]
        ]
        let routes = (stats["routes"] as? [[String: Any]] ?? []).sorted { int($0["requests"]) > int($1["requests"]) }
        for route in routes {
            let latency = route["latency_ms"] as? [String: Any] ?? [:]
            let origin = route["origin_latency_ms"] as? [String: Any] ?? [:]
            routeRows.append([
                route["name"] as? String ?? "?", "\(int(route["requests"]))", percent(route["hit_ratio"]), "\(int(route["hits"]))",
                "\(int(route["misses"]))", "\(int(route["passes"]))", ms(latency["p50"]), ms(latency["p99"]), ms(origin["p50"]),
                ms(origin["p99"]),
            ])
        }
        lines.append(contentsOf: table(routeRows))
        lines.append("")

        let alerts = stats["alerts"] as? [[String: Any]] ?? []
        if alerts.isEmpty {
            lines.append("alerts   none")
        } else {
            lines.append("alerts")
            for alert in alerts { lines.append("  \(alert["name"] as? String ?? "?"): \(alert["detail"] as? String ?? "")") }
        }
        return lines.joined(separator: "\n")
    }

    /// Left-aligned first column, right-aligned numbers, two spaces between columns.
    static func table(_ rows: [[String]]) -> [String] {
        guard let header = rows.first else { return [] }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 || column == row.count - 1 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
