import Foundation

/// The text tables `paca replay` prints.
public enum ReplayTable {
    /// The run's summary and one row per route (busiest first).
    public static func render(_ report: ReplayReport) -> String {
        let total = report.total
        var lines: [String] = []
        lines.append(
            "\(total.requests) requests to \(report.target) in \(String(format: "%.1f", report.durationSeconds)) s (\(report.pacing))"
        )
        let errorKinds = ReplayErrorKind.allCases.map { "\($0.rawValue) \(total.errorsByKind[$0.rawValue] ?? 0)" }
        lines.append("errors: \(total.errors) (\(errorKinds.joined(separator: ", ")))")
        lines.append(
            "hit ratio \(percent(total.hitRatio)), byte hit ratio \(percent(total.byteHitRatio)), origin fetches \(total.originFetches) (\(String(format: "%.1f", total.originFetchesPerSecond))/s)"
        )
        let outcomes = ReplayOutcome.allCases.map { "\($0.rawValue) \(total.outcomes[$0.rawValue] ?? 0)" }
        lines.append("outcomes: \(outcomes.joined(separator: ", "))")
        lines.append("")
        let header = [
            "route", "requests", "errors", "hit", "byte hit", "l1", "l2", "l3", "stale", "miss", "bypass", "fetch/s", "p50 ms",
            "p90 ms", "p99 ms", "p99.9 ms", "max ms",
        ]
        var rows = [header]
        let routes = report.routes.sorted { ($0.value.requests, $1.key) > ($1.value.requests, $0.key) }
        for (name, counts) in routes + [("all", total)] {
            rows.append(row(name, counts))
        }
        lines.append(contentsOf: align(rows))
        if report.malformedLines > 0 { lines.append("\(report.malformedLines) malformed log line(s) skipped") }
        return lines.joined(separator: "\n")
    }

    static func row(_ name: String, _ counts: ReplayReport.Counts) -> [String] {
        let outcome = { (key: String) in String(counts.outcomes[key] ?? 0) }
        let latency = counts.latencyMs
        return [
            name, String(counts.requests), String(counts.errors), percent(counts.hitRatio), percent(counts.byteHitRatio),
            outcome("l1"), outcome("l2"), outcome("l3"), outcome("stale"), outcome("miss"), outcome("bypass"),
            String(format: "%.1f", counts.originFetchesPerSecond),
        ] + [latency.p50, latency.p90, latency.p99, latency.p999, latency.max].map { String(format: "%.2f", $0) }
    }

    /// A ratio as a percentage with one decimal (`87.5%`).
    public static func percent(_ ratio: Double) -> String { String(format: "%.1f%%", ratio * 100) }

    /// Rows with columns padded to their widest cell: the first left-aligned, the rest right.
    public static func align(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
