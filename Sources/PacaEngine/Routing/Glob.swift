/// The `match` glob of `routes.json` and of purge patterns: `*` matches any run of characters,
/// `/` included; everything else matches itself, case-sensitively.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case exact(String)
        case prefix(String)
        case general([String])
    }

    /// The pattern as written.
    public let pattern: String
    private let kind: Kind

    /// Compiles `pattern`.
    public init(_ pattern: String) {
        self.pattern = pattern
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1 {
            kind = .exact(pattern)
        } else if parts.count == 2, parts[1].isEmpty {
            kind = .prefix(parts[0])
        } else {
            kind = .general(parts)
        }
    }

    /// The pattern.
    public var description: String { pattern }

    /// Whether `text` matches the whole pattern.
    public func matches(_ text: some StringProtocol) -> Bool {
        switch kind {
        case .exact(let literal):
            return text.utf8.elementsEqual(literal.utf8)
        case .prefix(let prefix):
            return text.utf8.starts(with: prefix.utf8)
        case .general(let parts):
            return Self.match(parts: parts, text: Array(text.utf8))
        }
    }

    private static func match(parts: [String], text: [UInt8]) -> Bool {
        // parts are the literals between stars; the first must be a prefix, the last a suffix,
        // the rest appear in order (greedy leftmost is correct for `*`-only globs).
        let first = Array(parts[0].utf8)
        let last = Array(parts[parts.count - 1].utf8)
        guard text.count >= first.count + last.count, text.starts(with: first), text.suffix(last.count).elementsEqual(last)
        else { return false }
        var position = first.count
        let end = text.count - last.count
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            let needle = Array(part.utf8)
            guard let found = find(needle, in: text, from: position, end: end) else { return false }
            position = found + needle.count
        }
        return position <= end
    }

    private static func find(_ needle: [UInt8], in text: [UInt8], from start: Int, end: Int) -> Int? {
        guard needle.count <= end - start else { return nil }
        var index = start
        while index + needle.count <= end {
            if text[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
