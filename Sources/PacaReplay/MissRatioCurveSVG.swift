import PacaCore
import PacaStorage

/// Draws a report's miss-ratio curves as one self-contained SVG document: miss ratio (1 −
/// object hit ratio) against cache size on a log axis, one line per policy, with a legend.
public enum MissRatioCurveSVG {
    /// The SVG text for `report` (an empty chart when it has no rows).
    public static func render(_ report: SimulationReport, title: String = "paca simulate: miss-ratio curve") -> String {
        let width = 720.0
        let height = 420.0
        let left = 70.0
        let right = 170.0
        let top = 40.0
        let bottom = 60.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let sizes = report.rows.map(\.sizeBytes).filter { $0 > 0 }
        let minX = Double(sizes.min() ?? 1).logarithm
        let maxX = Double(sizes.max() ?? 2).logarithm
        func x(_ size: Int) -> Double {
            maxX == minX ? left + plotWidth / 2 : left + (Double(size).logarithm - minX) / (maxX - minX) * plotWidth
        }
        func y(_ missRatio: Double) -> Double { top + (1 - min(1, max(0, missRatio))) * plotHeight }
        func number(_ value: Double) -> String { SimulationReport.decimal((value * 10).rounded() / 10) }

        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" "#
        svg += #"viewBox="0 0 \#(Int(width)) \#(Int(height))" font-family="sans-serif" font-size="12">"# + "\n"
        svg += #"<rect width="100%" height="100%" fill="white"/>"# + "\n"
        svg += #"<text x="\#(number(left))" y="22" font-size="15">\#(escape(title))</text>"# + "\n"
        // Axes and grid.
        for step in 0...5 {
            let ratio = Double(step) / 5
            let gy = y(ratio)
            svg +=
                #"<line x1="\#(number(left))" y1="\#(number(gy))" x2="\#(number(left + plotWidth))" y2="\#(number(gy))" stroke="rgb(221,221,221)"/>"#
            svg += #"<text x="\#(number(left - 8))" y="\#(number(gy + 4))" text-anchor="end">\#(Int(ratio * 100))%</text>"# + "\n"
        }
        for size in Set(sizes).sorted() {
            let gx = x(size)
            svg +=
                #"<line x1="\#(number(gx))" y1="\#(number(top))" x2="\#(number(gx))" y2="\#(number(top + plotHeight))" stroke="rgb(238,238,238)"/>"#
            svg += #"<text x="\#(number(gx))" y="\#(number(top + plotHeight + 18))" text-anchor="middle">"#
            svg += escape(HumanUnits.formatBytes(size)) + "</text>\n"
        }
        svg +=
            #"<rect x="\#(number(left))" y="\#(number(top))" width="\#(number(plotWidth))" height="\#(number(plotHeight))" fill="none" stroke="rgb(51,51,51)"/>"#
            + "\n"
        svg +=
            #"<text x="\#(number(left + plotWidth / 2))" y="\#(number(height - 14))" text-anchor="middle">cache size (log scale)</text>"#
            + "\n"
        svg +=
            #"<text transform="translate(18 \#(number(top + plotHeight / 2))) rotate(-90)" text-anchor="middle">miss ratio</text>"# + "\n"
        // One line per policy.
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
        var policies: [EvictionPolicy] = []
        for row in report.rows where !policies.contains(row.policy) { policies.append(row.policy) }
        for (index, policy) in policies.enumerated() {
            let colour = colours[index % colours.count]
            let points = report.rows.filter { $0.policy == policy && $0.sizeBytes > 0 }.sorted { $0.sizeBytes < $1.sizeBytes }
            let path = points.map { "\(number(x($0.sizeBytes))),\(number(y(1 - $0.objectHitRatio)))" }.joined(separator: " ")
            svg += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(path)"/>"# + "\n"
            for point in points {
                svg +=
                    #"<circle cx="\#(number(x(point.sizeBytes)))" cy="\#(number(y(1 - point.objectHitRatio)))" r="3" fill="\#(colour)"><title>"#
                svg += "\(policy.rawValue) \(escape(HumanUnits.formatBytes(point.sizeBytes))): miss ratio "
                svg += "\(SimulationReport.decimal(1 - point.objectHitRatio))</title></circle>\n"
            }
            let legendY = top + 10 + Double(index) * 20
            svg +=
                #"<line x1="\#(number(width - right + 16))" y1="\#(number(legendY))" x2="\#(number(width - right + 40))" y2="\#(number(legendY))" stroke="\#(colour)" stroke-width="2"/>"#
            svg += #"<text x="\#(number(width - right + 46))" y="\#(number(legendY + 4))">\#(policy.rawValue)</text>"# + "\n"
        }
        svg +=
            #"<text x="\#(number(width - right + 16))" y="\#(number(top + plotHeight))" font-size="11">\#(report.requests) requests</text>"#
            + "\n"
        return svg + "</svg>\n"
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
