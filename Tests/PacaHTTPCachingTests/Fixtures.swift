import PacaHTTPCaching
import Testing

/// Builds header lists from `"Name: value"` strings.
func h(_ lines: String...) -> [HTTPField] { fields(lines) }

/// Builds header lists from `"Name: value"` strings.
func fields(_ lines: [String]) -> [HTTPField] {
    lines.map { line in
        guard let colon = line.firstIndex(of: ":") else { return HTTPField(name: line, value: "") }
        var value = line[line.index(after: colon)...]
        while value.first == " " { value = value.dropFirst() }
        return HTTPField(name: String(line[..<colon]), value: String(value))
    }
}

/// A fixed "now": 2024-01-01T00:00:00Z in seconds and ms, and its IMF-fixdate.
let t0: Int64 = 1_704_067_200
let t0ms: Int64 = t0 * 1000
let t0Date = "Mon, 01 Jan 2024 00:00:00 GMT"

/// IMF-fixdate for `t0 + offset` seconds.
func date(_ offset: Int64) -> String { HTTPDate.format(unixSeconds: t0 + offset) }
