import Foundation

/// One self-contained HTML page (no scripts, no external files) with the run's table and two
/// inline SVG charts: the hit ratio over time, and the distribution of latencies.
public enum ReplayHTMLReport {
    /// The page of `report`; `latencies` are the kept latency samples in milliseconds.
    public static func render(_ report: ReplayReport, latencies: [Double]) -> String {
        let table = escape(ReplayTable.render(report))
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>paca replay: \(escape(report.log))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}pre{background:#f6f6f6;padding:1em;overflow-x:auto}
            h2{margin-top:1.5em}svg text{font-size:11px;fill:#444}</style></head><body>
            <h1>paca replay</h1>
            <p>\(escape(report.log)) → \(escape(report.target)), \(escape(report.pacing)):
            hit ratio <b>\(ReplayTable.percent(report.total.hitRatio))</b>,
            byte hit ratio <b>\(ReplayTable.percent(report.total.byteHitRatio))</b>,
            p99 <b>\(String(format: "%.2f", report.total.latencyMs.p99)) ms</b>.</p>
            <h2>Hit ratio over time</h2>
            \(hitRatioChart(report.timeline))
            <h2>Latency distribution</h2>
            \(latencyChart(latencies))
            <h2>Summary</h2>
            <pre>\(table)</pre>
            </body></html>

            """
    }

    static let width = 720.0
    static let height = 240.0
    static let margin = 40.0

    /// Hit ratio per second (requests in the second as faint bars), as a polyline.
    static func hitRatioChart(_ timeline: [ReplayTimelinePoint]) -> String {
        let points = downsample(timeline, to: 360)
        guard !points.isEmpty else { return "<p>No requests finished.</p>" }
        let plotWidth = width - 2 * margin
        let plotHeight = height - 2 * margin
        let step = plotWidth / Double(points.count)
        let busiest = Double(points.map(\.requests).max() ?? 1)
        var bars = ""
        var line: [String] = []
        for (index, point) in points.enumerated() {
            let x = margin + (Double(index) + 0.5) * step
            let barHeight = plotHeight * Double(point.requests) / max(1, busiest)
            bars +=
                "<rect x=\"\(f(x - step / 2 + 0.5))\" y=\"\(f(height - margin - barHeight))\" width=\"\(f(max(1, step - 1)))\" height=\"\(f(barHeight))\" fill=\"#dde6f0\"/>"
            let ratio = point.requests == 0 ? 0 : Double(point.hits) / Double(point.requests)
            line.append("\(f(x)),\(f(height - margin - plotHeight * ratio))")
        }
        let last = timeline.last?.second ?? 0
        return svg(
            bars + "<polyline fill=\"none\" stroke=\"#1f6fb2\" stroke-width=\"2\" points=\"\(line.joined(separator: " "))\"/>"
                + axes(xLabel: "seconds (0 to \(last + 1))", yTop: "100%", yBottom: "0%"))
    }

    /// A histogram of latencies over logarithmic buckets.
    static func latencyChart(_ latencies: [Double]) -> String {
        guard let largest = latencies.max() else { return "<p>No latencies recorded.</p>" }
        let smallest = max(0.01, latencies.min() ?? 0.01)
        let bucketCount = 40
        let low = log10(smallest)
        let high = max(low + 0.001, log10(max(largest, smallest)))
        var counts = [Int](repeating: 0, count: bucketCount)
        for value in latencies {
            let position = (log10(max(value, smallest)) - low) / (high - low)
            counts[min(bucketCount - 1, max(0, Int(position * Double(bucketCount))))] += 1
        }
        let plotWidth = width - 2 * margin
        let plotHeight = height - 2 * margin
        let barWidth = plotWidth / Double(bucketCount)
        let tallest = Double(counts.max() ?? 1)
        var bars = ""
        for (index, count) in counts.enumerated() where count > 0 {
            let barHeight = plotHeight * Double(count) / tallest
            let from = pow(10, low + (high - low) * Double(index) / Double(bucketCount))
            bars +=
                "<rect x=\"\(f(margin + Double(index) * barWidth))\" y=\"\(f(height - margin - barHeight))\" width=\"\(f(barWidth - 1))\" height=\"\(f(barHeight))\" fill=\"#2a9d5c\"><title>≥ \(String(format: "%.2f", from)) ms: \(count)</title></rect>"
        }
        return svg(
            bars
                + axes(
                    xLabel: "latency, log scale: \(String(format: "%.2f", smallest)) ms to \(String(format: "%.2f", largest)) ms",
                    yTop: "\(Int(tallest))", yBottom: "0"))
    }

    private static func axes(xLabel: String, yTop: String, yBottom: String) -> String {
        let bottom = height - margin
        return "<line x1=\"\(f(margin))\" y1=\"\(f(bottom))\" x2=\"\(f(width - margin))\" y2=\"\(f(bottom))\" stroke=\"#888\"/>"
            + "<line x1=\"\(f(margin))\" y1=\"\(f(margin))\" x2=\"\(f(margin))\" y2=\"\(f(bottom))\" stroke=\"#888\"/>"
            + "<text x=\"\(f(margin))\" y=\"\(f(height - 12))\">\(escape(xLabel))</text>"
            + "<text x=\"2\" y=\"\(f(margin + 4))\">\(escape(yTop))</text><text x=\"2\" y=\"\(f(bottom))\">\(escape(yBottom))</text>"
    }

    private static func svg(_ body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\(body)</svg>"
    }

    /// Merges neighbouring seconds so a long run draws at most `limit` points.
    static func downsample(_ timeline: [ReplayTimelinePoint], to limit: Int) -> [ReplayTimelinePoint] {
        guard timeline.count > limit else { return timeline }
        let group = (timeline.count + limit - 1) / limit
        return stride(from: 0, to: timeline.count, by: group).map { start in
            let slice = timeline[start..<min(timeline.count, start + group)]
            return ReplayTimelinePoint(
                second: slice.first!.second, requests: slice.map(\.requests).reduce(0, +), hits: slice.map(\.hits).reduce(0, +))
        }
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
