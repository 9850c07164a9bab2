import PacaHTTPCaching
import Testing

/// SplitMix64: a tiny deterministic generator so the garbage inputs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let fragments = [
    "max-age", "s-maxage", "=", "\"", ",", " ", "\t", "-", "0", "1", "60", "99999999999999999999", "-1",
    "no-cache", "no-store", "private", "public", "must-revalidate", "max-stale", "min-fresh", "stale-if-error",
    "stale-while-revalidate", "W/", "*", "bytes", "http://", "//", "/", "..", ".", "?", "#", ":", "GMT", "Sun,",
    "06", "Nov", "1994", "08:49:37", "\\", "\u{0}", "é", "🙂", "\r\n", ";",
]

private func garbage(_ rng: inout SplitMix64) -> String {
    let n = Int(rng.next() % 12)
    var s = ""
    for _ in 0..<n { s += fragments[Int(rng.next() % UInt64(fragments.count))] }
    return s
}

@Test("Garbage never traps any entry point (RFC 9111 §1.2.2, §4.2.1)")
func garbageNeverTraps() {
    var rng = SplitMix64(state: 42)
    let names = [
        "Cache-Control", "Expires", "Date", "Age", "Last-Modified", "ETag", "Vary", "Set-Cookie", "Pragma",
        "Authorization", "If-None-Match", "If-Modified-Since", "Connection", "Location",
    ]
    for i in 0..<3000 {
        var headers: [HTTPField] = []
        for _ in 0..<Int(rng.next() % 6) {
            headers.append(HTTPField(name: names[Int(rng.next() % UInt64(names.count))], value: garbage(&rng)))
        }
        let now = Int64(bitPattern: rng.next())
        let policy = RoutePolicy(
            ttl: i % 3 == 0 ? Int64(bitPattern: rng.next()) : nil,
            ttlSource: TTLSource.allCases[i % 3],
            maxTTL: i % 5 == 0 ? Int64(bitPattern: rng.next()) : nil,
            staleWhileRevalidate: Int64(bitPattern: rng.next()), staleIfError: Int64(bitPattern: rng.next()),
            heuristicFraction: [0.1, .nan, .infinity, -1, 1e300][i % 5],
            heuristicCap: Int64(bitPattern: rng.next()), keepWithValidators: Int64(bitPattern: rng.next()))
        let d = evaluateStorability(
            method: i % 7 == 0 ? "POST" : "GET", requestHeaders: headers, status: Int(rng.next() % 700),
            responseHeaders: headers, bodyBytes: Int(rng.next() % 100), policy: policy,
            requestTimeMillis: Int64(bitPattern: rng.next()), responseTimeMillis: now)
        if let plan = d.plan {
            #expect(plan.freshnessLifetimeMillis >= 0)
            #expect(plan.storageLifetimeMillis >= 0)
            #expect(plan.correctedInitialAgeMillis >= 0)
            _ = evaluateLookup(plan: plan, nowMillis: Int64(bitPattern: rng.next()), request: CacheControl(headers: headers))
            _ = canServeStaleOnError(plan: plan, nowMillis: Int64(bitPattern: rng.next()))
            _ = plan.ageHeaderSeconds(nowMillis: .max)
        }
        let text = garbage(&rng)
        _ = HTTPDate.parse(text)
        _ = HTTPDate.format(unixSeconds: Int64(bitPattern: rng.next()))
        _ = ifNoneMatchMatches(text, etag: garbage(&rng))
        _ = shouldAnswerNotModified(requestHeaders: headers, etag: text, lastModified: text, date: text)
        _ = mergeNotModified(stored: headers, notModified: headers.reversed())
        _ = varyFieldNames(headers)
        _ = secondaryKey(varyNames: [text, "accept-encoding"], requestHeaders: headers)
        _ = invalidationTargets(
            method: "POST", status: 200, requestPath: garbage(&rng), requestAuthority: text,
            location: garbage(&rng), contentLocation: garbage(&rng))
        let r = evaluateRange("bytes=" + text, ifRange: nil, etag: nil, lastModified: nil, contentLength: Int(rng.next() % 50))
        if case .satisfiable(let list) = r { #expect(list.allSatisfy { $0.lowerBound >= 0 && $0.upperBound < 50 }) }
    }
}
