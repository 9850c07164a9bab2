/// The field names a response varies on (RFC 9111 §4.1): lowercased, deduplicated, sorted.
/// Returns `nil` for `Vary: *` (anywhere in any line), which no later request can match, and
/// `[]` when the response has no `Vary`. Members that are not tokens are dropped.
public func varyFieldNames(_ responseHeaders: [HTTPField]) -> [String]? {
    var names: Set<String> = []
    for member in responseHeaders.listMembers("vary") {
        if member == "*" { return nil }
        let lower = ASCII.lowercased(member)
        if HTTPToken.isToken(lower) { names.insert(lower) }
    }
    return names.sorted()
}
