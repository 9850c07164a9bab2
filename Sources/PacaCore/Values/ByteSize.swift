/// Parsing of the human-readable sizes and durations that `routes.json` and the command line
/// take: sizes as `512`, `64KB`, `100MB`, `1GB` (1024-based), durations as `50ms`, `60s`, `5m`,
/// `1h` (a bare number is seconds).
public enum HumanUnits {
    /// Parses a size; `nil` when the text is not one. Units are 1024-based; `B` is optional.
    public static func parseBytes(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces().uppercased()
        guard !trimmed.isEmpty else { return nil }
        let units: [(String, Int)] = [
            ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
            ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
        ]
        var number = Substring(trimmed)
        var multiplier = 1
        for (suffix, value) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            multiplier = value
            break
        }
        let digits = number.trimmingSpaces()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else { return nil }
        if digits.contains(".") {
            // "1.5MB": decimals are fine with a unit; the result is rounded down to whole bytes.
            guard multiplier > 1, digits.filter({ $0 == "." }).count == 1, digits.first != ".", digits.last != ".",
                let value = Double(digits)
            else {
                return nil
            }
            let bytes = value * Double(multiplier)
            return bytes < 9.0e18 ? Int(bytes) : nil
        }
        guard let value = Int(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// Parses a duration; `nil` when the text is not one (negative durations are refused).
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces().lowercased()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var number = Substring(trimmed)
        var multiplier: Int64 = 1000
        for (suffix, value) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            multiplier = value
            break
        }
        let digits = number.trimmingSpaces()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits)
        else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : .milliseconds(product)
    }

    /// Formats a byte count the way `parseBytes` reads it back (`1.5MB` style, for messages).
    public static func formatBytes(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes)B" }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded))\(units[unit])" : "\(rounded)\(units[unit])"
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
