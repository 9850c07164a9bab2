/// Targeted cache-control fields (RFC 9213): `CDN-Cache-Control` and paca's own
/// `Paca-Cache-Control`, read as Cache-Control directives for paca's shared-cache decisions.
public enum TargetedCacheControl {
    /// paca's private target. Never sent to a client: paca drops it from every response.
    public static let pacaFieldName = "paca-cache-control"
    /// The CDN target (RFC 9213 §3). Passed to the client unchanged, for a CDN further down.
    public static let cdnFieldName = "cdn-cache-control"
    /// The default target list of a route, most specific first.
    public static let defaultTargets = [pacaFieldName, cdnFieldName]

    /// The directives of one targeted field (RFC 9213 §2.1): `nil` when the field is absent,
    /// empty, or not a valid RFC 8941 Dictionary, so the cache tries the next target.
    ///
    /// Each member is a response directive with the Cache-Control meaning and precedence
    /// (RFC 9213 §2.2): a Boolean `true` is a directive without argument (`?0` reads as absent),
    /// an Integer or Token is its argument, a String a quoted argument (`private="x"`), an Inner
    /// List of Strings or Tokens the field names of `private`/`no-cache`. A value that makes no
    /// sense for its directive (`max-age=-1`, `max-age=1.5`, `max-age="60"`, which Cache-Control
    /// would accept) is invalid as an invalid Cache-Control value is: for `max-age`/`s-maxage`
    /// the response is stale.
    public static func directives(fieldValues: [String]) -> CacheControl? {
        guard !fieldValues.isEmpty, let dictionary = StructuredFieldDictionary(fieldValues: fieldValues), !dictionary.isEmpty else {
            return nil
        }
        var directives: [String] = []
        for (name, member) in dictionary.members {
            switch member {
            case .item(.boolean(true)): directives.append(name)
            case .item(.boolean(false)): continue
            case .item(.integer(let n)): directives.append("\(name)=\(n)")
            case .item(.decimal(let text)), .item(.token(let text)): directives.append("\(name)=\(text)")
            case .item(.string(let text)):
                // Cache-Control accepts `max-age="60"`; a targeted field maps delta-seconds to an
                // Integer only, so a String there is an invalid value.
                directives.append(integerDirectives.contains(name) ? "\(name)=" : "\(name)=\(quoted(text))")
            case .item(.byteSequence): directives.append("\(name)=")
            case .innerList(let items):
                var names: [String] = []
                for item in items {
                    switch item {
                    case .string(let s), .token(let s): names.append(s)
                    default: continue
                    }
                }
                directives.append(names.isEmpty ? "\(name)=" : "\(name)=\(quoted(names.joined(separator: ", ")))")
            }
        }
        return CacheControl(fieldValues: [directives.joined(separator: ", ")])
    }

    /// Directives whose Cache-Control argument is delta-seconds: an Integer in a targeted field.
    static let integerDirectives: Set<String> = ["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}
