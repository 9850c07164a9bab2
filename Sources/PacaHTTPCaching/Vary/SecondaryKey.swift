/// A deterministic secondary cache key for the request fields a response varies on
/// (RFC 9111 §4.1).
///
/// Each name (lowercased, deduplicated, sorted) contributes its value normalised as §4.1 allows:
/// all lines combined with `", "`, whitespace runs collapsed to one space, whitespace around
/// commas removed outside quoted strings, and the value lowercased for `accept-encoding`,
/// `accept-language` and `accept-charset`, whose tokens are case-insensitive. An absent field is
/// encoded differently from an empty one (§4.1: absent only matches absent). Values are
/// length-prefixed, so no value can forge another key. `[]` yields `""`.
public func secondaryKey(varyNames: [String], requestHeaders: [HTTPField]) -> String {
    let names = Set(varyNames.map { ASCII.lowercased(ASCII.trimmed($0)) }).filter { !$0.isEmpty }.sorted()
    var out = ""
    for name in names {
        if !out.isEmpty { out += "\n" }
        let lines = requestHeaders.values(name)
        if lines.isEmpty {
            out += name + "!"
            continue
        }
        let joined = lines.joined(separator: ", ")
        let value =
            VaryNormalizer.preferenceLists.contains(name)
            ? VaryNormalizer.normalizePreferenceList(joined) : VaryNormalizer.normalize(joined)
        out += name + "=" + String(value.utf8.count) + ":" + value
    }
    return out
}
