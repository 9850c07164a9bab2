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
    secondaryKey(varyNames: varyNames) { visit in
        for field in requestHeaders { visit(field.name, field.value) }
    }
}

/// As `secondaryKey(varyNames:requestHeaders:)`, reading the request's fields through
/// `forEachField`, which passes each field's name and value, in order, to the closure it is
/// given: a caller whose fields are in another form (NIO's `HTTPHeaders` on the hit path) need
/// not copy them into `[HTTPField]` first.
public func secondaryKey(varyNames: [String], forEachField: ((_ name: String, _ value: String) -> Void) -> Void) -> String {
    // Built in place: this runs on every hit of a varying URL, so no set, no array of lines and
    // no intermediate strings beyond what a value's normalisation needs.
    var out = ""
    if varyNames.count == 1 {
        // The common case, one name: no array of names either.
        let name = ASCII.lowercased(ASCII.trimmed(varyNames[0]))
        if !name.isEmpty { appendSecondaryKeyPart(name: name, to: &out, forEachField: forEachField) }
        return out
    }
    var names: [String] = []
    names.reserveCapacity(varyNames.count)
    for raw in varyNames {
        let name = ASCII.lowercased(ASCII.trimmed(raw))
        if !name.isEmpty, !names.contains(name) { names.append(name) }
    }
    if names.count > 1 { names.sort() }
    for name in names {
        if !out.isEmpty { out += "\n" }
        appendSecondaryKeyPart(name: name, to: &out, forEachField: forEachField)
    }
    return out
}

/// Appends one name's part of a secondary key: `name!` when the request lacks the field, else
/// `name=<length>:<normalised value>`.
private func appendSecondaryKeyPart(
    name: String, to out: inout String, forEachField: ((_ name: String, _ value: String) -> Void) -> Void
) {
    var joined: String?
    forEachField { fieldName, value in
        guard ASCII.equalsLowercased(fieldName, name) else { return }
        if let previous = joined {
            joined = previous + ", " + value
        } else {
            joined = value
        }
    }
    guard let joined else {
        out += name
        out += "!"
        return
    }
    let value =
        VaryNormalizer.preferenceLists.contains(name)
        ? VaryNormalizer.normalizePreferenceList(joined) : VaryNormalizer.normalize(joined)
    out += name
    out += "="
    out += String(value.utf8.count)
    out += ":"
    out += value
}
