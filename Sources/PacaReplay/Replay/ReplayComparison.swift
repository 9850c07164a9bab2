import Foundation

/// Two replay reports side by side (`paca replay --compare A.json B.json`): the totals, then
/// each route's hit ratio and p99, with B − A in the last column.
public enum ReplayComparison {
    /// The comparison as text lines.
    public static func render(_ a: ReplayReport, _ b: ReplayReport, names: (String, String) = ("A", "B")) -> String {
        var rows: [[String]] = [["", names.0, names.1, "difference"]]
        func count(_ label: String, _ x: Int, _ y: Int) {
            rows.append([label, String(x), String(y), signed(Double(y - x), format: "%.0f")])
        }
        func ratio(_ label: String, _ x: Double, _ y: Double) {
            rows.append([label, ReplayTable.percent(x), ReplayTable.percent(y), signed((y - x) * 100, format: "%.1f") + " pp"])
        }
        func value(_ label: String, _ x: Double, _ y: Double, unit: String) {
            rows.append([label, String(format: "%.2f", x), String(format: "%.2f", y), signed(y - x, format: "%.2f") + " " + unit])
        }
        func counts(_ prefix: String, _ x: ReplayReport.Counts, _ y: ReplayReport.Counts) {
            count(prefix + "requests", x.requests, y.requests)
            count(prefix + "errors", x.errors, y.errors)
            ratio(prefix + "hit ratio", x.hitRatio, y.hitRatio)
            ratio(prefix + "byte hit ratio", x.byteHitRatio, y.byteHitRatio)
            value(prefix + "origin fetches/s", x.originFetchesPerSecond, y.originFetchesPerSecond, unit: "/s")
            value(prefix + "p50", x.latencyMs.p50, y.latencyMs.p50, unit: "ms")
            value(prefix + "p99", x.latencyMs.p99, y.latencyMs.p99, unit: "ms")
        }
        counts("", a.total, b.total)
        for outcome in ReplayOutcome.allCases {
            count("  " + outcome.rawValue, a.total.outcomes[outcome.rawValue] ?? 0, b.total.outcomes[outcome.rawValue] ?? 0)
        }
        value("p99.9", a.total.latencyMs.p999, b.total.latencyMs.p999, unit: "ms")
        value("max", a.total.latencyMs.max, b.total.latencyMs.max, unit: "ms")
        for route in Set(a.routes.keys).union(b.routes.keys).sorted() {
            let empty = ReplayReport.Counts.empty
            let x = a.routes[route] ?? empty
            let y = b.routes[route] ?? empty
            ratio("\(route): hit ratio", x.hitRatio, y.hitRatio)
            value("\(route): p99", x.latencyMs.p99, y.latencyMs.p99, unit: "ms")
        }
        var lines = ["\(names.0): \(a.log) → \(a.target) (\(a.pacing))", "\(names.1): \(b.log) → \(b.target) (\(b.pacing))", ""]
        lines.append(contentsOf: ReplayTable.align(rows))
        return lines.joined(separator: "\n")
    }

    private static func signed(_ value: Double, format: String) -> String {
        let text = String(format: format, value)
        return value > 0 ? "+" + text : (text.hasPrefix("-0") && Double(text) == 0 ? String(text.dropFirst()) : text)
    }
}

extension ReplayReport.Counts {
    /// A route that one of two runs never saw.
    static let empty = ReplayReport.Counts(ReplayStatistics(latencyCapacity: 1), seconds: 0)
}
