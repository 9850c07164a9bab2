#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `match` glob of `routes.json` and of purge patterns: `*` matches any run of characters,
/// `/` included; everything else matches itself, case-sensitively.
///
/// Compiled once into the UTF-8 bytes of its literals, and matched against the text's bytes in
/// place: every request's route is found this way, so a match allocates nothing.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case exact([UInt8])
        case prefix([UInt8])
        /// The literals between the stars, in order (the first and the last may be empty).
        case general([[UInt8]])
    }

    /// The pattern as written.
    public let pattern: String
    private let kind: Kind

    /// Compiles `pattern`.
    public init(_ pattern: String) {
        self.pattern = pattern
        let parts = pattern.utf8.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map(Array.init)
        if parts.count == 1 {
            kind = .exact(parts[0])
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
        if let result = text.utf8.withContiguousStorageIfAvailable({ matches(bytes: $0) }) { return result }
        return Array(text.utf8).withUnsafeBufferPointer { matches(bytes: $0) }
    }

    /// Whether the UTF-8 bytes `text` match the whole pattern.
    func matches(bytes text: UnsafeBufferPointer<UInt8>) -> Bool {
        switch kind {
        case .exact(let literal):
            return text.count == literal.count && Self.has(literal, in: text, at: 0)
        case .prefix(let prefix):
            return text.count >= prefix.count && Self.has(prefix, in: text, at: 0)
        case .general(let parts):
            // The first literal must be a prefix, the last a suffix, the rest appear in order
            // between them (greedy leftmost is correct for `*`-only globs).
            let first = parts[0]
            let last = parts[parts.count - 1]
            guard text.count >= first.count + last.count, Self.has(first, in: text, at: 0),
                Self.has(last, in: text, at: text.count - last.count)
            else { return false }
            var position = first.count
            let end = text.count - last.count
            for part in parts.dropFirst().dropLast() where !part.isEmpty {
                guard let found = Self.find(part, in: text, from: position, end: end) else { return false }
                position = found + part.count
            }
            return position <= end
        }
    }

    /// Whether `literal` is in `text` at `offset` (which leaves room for it).
    @inline(__always)
    private static func has(_ literal: [UInt8], in text: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        guard !literal.isEmpty else { return true }
        return literal.withUnsafeBufferPointer { memcmp(text.baseAddress! + offset, $0.baseAddress!, $0.count) == 0 }
    }

    /// Where `needle` first starts in `text[start..<end]`.
    private static func find(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int? {
        var index = start
        while index + needle.count <= end {
            if has(needle, in: text, at: index) { return index }
            index += 1
        }
        return nil
    }
}
