/// One header field line of an HTTP message: a name and its (unparsed) value.
///
/// The name keeps the spelling it arrived with; every lookup in this module compares names
/// case-insensitively (RFC 9110 §5.1), so callers never need to normalise them first.
/// Order matters: arrays of `HTTPField` keep the order of the message.
public struct HTTPField: Sendable, Hashable {
    /// The field name as received, e.g. `Cache-Control`.
    public var name: String
    /// The field value as received, without the line terminator.
    public var value: String

    /// Creates a field line from a name and a value, both stored as given.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == HTTPField {
    /// All values of the field lines named `name` (compared case-insensitively), in message
    /// order. Values are returned as received: a comma list on one line stays one element.
    public func values(_ name: String) -> [String] {
        let wanted = ASCII.lowercased(name)
        var result: [String] = []
        for field in self where ASCII.equalsLowercased(field.name, wanted) {
            result.append(field.value)
        }
        return result
    }

    /// The value of the first field line named `name` (case-insensitive), or `nil` when absent.
    public func first(_ name: String) -> String? {
        let wanted = ASCII.lowercased(name)
        for field in self where ASCII.equalsLowercased(field.name, wanted) {
            return field.value
        }
        return nil
    }

    /// Whether at least one field line is named `name` (case-insensitive).
    public func contains(_ name: String) -> Bool {
        first(name) != nil
    }

    /// The values of every `name` line split into list members (RFC 9110 §5.6.1): commas inside
    /// quoted strings do not split, members are trimmed, empty members are dropped.
    public func listMembers(_ name: String) -> [String] {
        var result: [String] = []
        for value in values(name) {
            result.append(contentsOf: HTTPList.split(value))
        }
        return result
    }

    /// A copy without the field lines whose lowercased name is in `lowercasedNames`; the order
    /// of the remaining lines is kept.
    public func removing(_ lowercasedNames: Set<String>) -> [HTTPField] {
        filter { !lowercasedNames.contains(ASCII.lowercased($0.name)) }
    }
}
