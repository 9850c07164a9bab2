/// An entity tag (RFC 9110 §8.8.3): an opaque quoted string, optionally marked weak with `W/`.
public struct EntityTag: Sendable, Hashable {
    /// The opaque tag without quotes, e.g. `abc` for `W/"abc"`.
    public var opaque: String
    /// Whether the tag is weak (`W/` prefix).
    public var isWeak: Bool

    /// Creates a tag from its parts.
    public init(opaque: String, isWeak: Bool) {
        self.opaque = opaque
        self.isWeak = isWeak
    }

    /// Parses `"x"` or `W/"x"`. Leniently also accepts an unquoted value without spaces, commas
    /// or quotes (some origins send those) as a strong tag. Returns `nil` for anything else.
    public init?(parsing raw: String) {
        var text = Substring(ASCII.trimmed(raw))
        var weak = false
        if text.hasPrefix("W/") || text.hasPrefix("w/") {
            weak = true
            text = text.dropFirst(2)
        }
        if text.first == "\"" {
            guard text.count >= 2, text.last == "\"" else { return nil }
            let inner = text.dropFirst().dropLast()
            guard !inner.contains("\"") else { return nil }
            self.init(opaque: String(inner), isWeak: weak)
            return
        }
        guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "," || $0 == "\"" || $0 == "\t" }) else { return nil }
        self.init(opaque: String(text), isWeak: weak)
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): opaque tags equal, weakness ignored.
    public func weaklyMatches(_ other: EntityTag) -> Bool { opaque == other.opaque }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and opaque tags equal.
    public func stronglyMatches(_ other: EntityTag) -> Bool { !isWeak && !other.isWeak && opaque == other.opaque }

    /// The tag as sent in a field: `"x"` or `W/"x"`.
    public var fieldValue: String { (isWeak ? "W/" : "") + "\"" + opaque + "\"" }

    /// Parses a comma list of entity tags (quoted commas do not split); invalid members are dropped.
    public static func list(_ value: String) -> [EntityTag] {
        HTTPList.split(value).compactMap { EntityTag(parsing: $0) }
    }
}
