/// The largest number of ranges honoured in one request; more are answered with the full
/// representation (RFC 9110 §14.2 lets a server ignore such requests; avoids amplification).
public let maximumRanges = 16

/// The most ranges that may overlap an earlier one before the request is answered with the full
/// representation: RFC 9110 §14.2 lets a server ignore "more than two overlapping ranges".
public let maximumOverlappingRanges = 1

/// Evaluates `Range` and `If-Range` against a stored representation (RFC 9110 §13.1.5, §14.1.2).
///
/// - `bytes=a-b`, `a-` and `-n` (suffix) members, comma separated, case-insensitive unit, spaces
///   around members tolerated. Any syntactically invalid member (including `b < a`), another
///   unit, or more than `maximumRanges` members → `.full` (the field is ignored).
/// - Members starting at or past the end are dropped; `-0` is unsatisfiable; `b` and `n` are
///   clamped to the length. No satisfiable member → `.unsatisfiable`.
/// - Overlapping or adjacent ranges are coalesced (sorted) as §14.2 allows; otherwise the
///   request's order is kept. More than two mutually overlapping ranges (more than
///   `maximumOverlappingRanges` members overlapping an earlier one) → `.full` (§14.2: a sign of a
///   broken client or a denial-of-service attempt).
/// - `If-Range` with an entity tag needs a strong match with `etag`; with a date it must equal
///   `lastModified` exactly; anything else (or a missing validator) → `.full`.
public func evaluateRange(
    _ rangeHeader: String?, ifRange: String?, etag: String?, lastModified: String?, contentLength: Int
) -> RangeResult {
    guard let rangeHeader else { return .full }
    if let ifRange, !ifRangeHolds(ifRange, etag: etag, lastModified: lastModified) { return .full }
    let length = max(0, contentLength)
    let text = ASCII.trimmed(rangeHeader)
    guard let eq = text.firstIndex(of: "=") else { return .full }
    guard ASCII.lowercased(ASCII.trimmed(String(text[..<eq]))) == "bytes" else { return .full }
    let specs = String(text[text.index(after: eq)...]).split(separator: ",", omittingEmptySubsequences: false)
        .map { ASCII.trimmed($0) }
        .filter { !$0.isEmpty }
    guard !specs.isEmpty, specs.count <= maximumRanges else { return .full }

    var ranges: [ClosedRange<Int>] = []
    for spec in specs {
        guard let dash = spec.firstIndex(of: "-") else { return .full }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let n = digits(last) else { return .full }
            if n == 0 || length == 0 { continue }
            ranges.append(max(0, length - min(n, length))...(length - 1))
        } else {
            guard let a = digits(first) else { return .full }
            var b: Int?
            if !last.isEmpty {
                guard let v = digits(last) else { return .full }
                guard v >= a else { return .full }
                b = v
            }
            if a >= length { continue }
            ranges.append(a...min(b ?? (length - 1), length - 1))
        }
    }
    if ranges.isEmpty { return .unsatisfiable }
    if overlapCount(ranges) > maximumOverlappingRanges { return .full }
    return .satisfiable(coalesced(ranges))
}

/// Whether an `If-Range` condition holds (RFC 9110 §13.1.5).
func ifRangeHolds(_ value: String, etag: String?, lastModified: String?) -> Bool {
    let text = ASCII.trimmed(value)
    if text.hasPrefix("\"") || text.hasPrefix("W/") || text.hasPrefix("w/") {
        guard let wanted = EntityTag(parsing: text), let etag, let stored = EntityTag(parsing: etag) else { return false }
        return wanted.stronglyMatches(stored)
    }
    guard let since = HTTPDate.parse(text), let lastModified, let lm = HTTPDate.parse(lastModified) else { return false }
    return since == lm
}

/// `1*DIGIT` saturating at `Int.max`; `nil` for anything else.
private func digits(_ s: Substring) -> Int? {
    var v = 0
    var any = false
    for b in s.utf8 {
        guard b >= 0x30 && b <= 0x39 else { return nil }
        any = true
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (r, o2) = m.addingReportingOverflow(Int(b - 0x30))
        v = (o1 || o2) ? .max : r
    }
    return any ? v : nil
}

/// How many ranges, taken in ascending order, start inside an earlier one (adjacency is not overlap).
private func overlapCount(_ ranges: [ClosedRange<Int>]) -> Int {
    let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
    var count = 0
    var end = Int.min
    for r in sorted {
        if r.lowerBound <= end { count += 1 }
        end = max(end, r.upperBound)
    }
    return count
}

/// Sorts and merges ranges only if some overlap or touch; otherwise keeps the request's order.
private func coalesced(_ ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
    let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
    var merged: [ClosedRange<Int>] = []
    for r in sorted {
        if let last = merged.last, r.lowerBound <= last.upperBound || r.lowerBound - last.upperBound == 1 {
            merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
        } else {
            merged.append(r)
        }
    }
    return merged.count == ranges.count ? ranges : merged
}
