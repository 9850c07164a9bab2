/// `corrected_initial_age` (RFC 9111 §4.2.3) in ms.
///
/// - `apparent_age = max(0, response_time - date_value)`
/// - `corrected_age_value = age_value + (response_time - request_time)`
/// - result `= max(apparent_age, corrected_age_value)`
///
/// `ageSeconds` is the `Age` header (`nil` when absent or invalid); a negative delay (clocks out
/// of order) counts as 0. `dateMillis` is the `Date` header; pass `responseTimeMillis` if absent.
public func correctedInitialAgeMillis(
    ageSeconds: Int64?, dateMillis: Int64, requestTimeMillis: Int64, responseTimeMillis: Int64
) -> Int64 {
    let apparent = max(0, Sat.sub(responseTimeMillis, dateMillis))
    let delay = max(0, Sat.sub(responseTimeMillis, requestTimeMillis))
    let corrected = Sat.add(DeltaSeconds.millis(ageSeconds ?? 0), delay)
    return max(apparent, corrected)
}

/// `current_age` (RFC 9111 §4.2.3) in ms: `corrected_initial_age + (now - response_time)`.
/// If the clock reads earlier than `responseTimeMillis`, resident time counts as 0, so the age
/// never goes below the corrected initial age.
public func currentAgeMillis(correctedInitialAgeMillis: Int64, responseTimeMillis: Int64, nowMillis: Int64) -> Int64 {
    let resident = max(0, Sat.sub(nowMillis, responseTimeMillis))
    return Sat.add(max(0, correctedInitialAgeMillis), resident)
}

/// The `Age` header value of a response (RFC 9111 §5.1) in seconds, `nil` when absent or invalid.
///
/// `Age` is a singleton: with a list (several members or several lines) only the first member
/// counts and the rest are discarded; a first member that is not bare `1*DIGIT` (leading or
/// trailing garbage, a sign, a fraction, a parameter such as `10;x=1`, quotes) makes the field
/// ignored, as §5.1 says ("a cache SHOULD ignore the field"). Values above 2^31 clamp (§1.2.2).
public func ageHeaderSeconds(_ headers: [HTTPField]) -> Int64? {
    guard let line = headers.values("age").first, let first = HTTPList.split(line).first else { return nil }
    let text = ASCII.trimmed(first)
    guard !text.utf8.contains(UInt8(ascii: "\"")) else { return nil }  // delta-seconds has no quoted form here
    return DeltaSeconds.parse(text)
}
