import NIOHTTP1

/// Which of the request fields the engine branches on are present, found in one pass over the
/// head (issue 12): a hit asks about six of them, and `HTTPHeaders.contains(name:)` would scan
/// every field once per question; a browser sends a dozen fields or more.
struct RequestFieldPresence: OptionSet, Sendable {
    let rawValue: UInt8

    static let cookie = RequestFieldPresence(rawValue: 1 << 0)
    static let range = RequestFieldPresence(rawValue: 1 << 1)
    static let ifNoneMatch = RequestFieldPresence(rawValue: 1 << 2)
    static let ifModifiedSince = RequestFieldPresence(rawValue: 1 << 3)
    static let cacheControl = RequestFieldPresence(rawValue: 1 << 4)
    static let pragma = RequestFieldPresence(rawValue: 1 << 5)

    /// Either conditional field of a revalidating client (RFC 9110 §13.1.1, §13.1.3).
    static let conditional: RequestFieldPresence = [.ifNoneMatch, .ifModifiedSince]

    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// The fields of `headers` that are among the ones above, names compared ignoring ASCII case.
    init(_ headers: HTTPHeaders) {
        var present: RequestFieldPresence = []
        for (name, _) in headers {
            // Only a name of one of the lengths below is compared at all.
            switch name.utf8.count {
            case 5 where Self.equalsIgnoringCase(name, "range"): present.insert(.range)
            case 6 where Self.equalsIgnoringCase(name, "cookie"): present.insert(.cookie)
            case 6 where Self.equalsIgnoringCase(name, "pragma"): present.insert(.pragma)
            case 13 where Self.equalsIgnoringCase(name, "if-none-match"): present.insert(.ifNoneMatch)
            case 13 where Self.equalsIgnoringCase(name, "cache-control"): present.insert(.cacheControl)
            case 17 where Self.equalsIgnoringCase(name, "if-modified-since"): present.insert(.ifModifiedSince)
            default: break
            }
        }
        self = present
    }

    /// `name` equals `lowercase` ignoring ASCII case (`lowercase` is letters and `-` only, so
    /// `| 0x20` maps nothing else onto it).
    private static func equalsIgnoringCase(_ name: String, _ lowercase: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        var index = 0
        for byte in name.utf8 {
            guard index < expected.count, byte | 0x20 == expected[index] else { return false }
            index += 1
        }
        return index == expected.count
    }
}
