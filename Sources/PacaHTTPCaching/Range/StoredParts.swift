/// The parts of one representation a cache holds from 206 answers (RFC 9111 §3.3), all under
/// one strong validator and one complete length: sorted, disjoint, never adjacent segments.
public struct StoredParts: Sendable, Equatable {
    /// A run of the representation's bytes starting at `offset`.
    public struct Segment: Sendable, Equatable {
        /// Where the bytes start in the representation.
        public var offset: Int
        /// The bytes (never empty).
        public var bytes: [UInt8]
        /// The offsets the segment covers, inclusive.
        public var range: ClosedRange<Int> { offset...(offset + bytes.count - 1) }

        /// Creates a segment.
        public init(offset: Int, bytes: [UInt8]) {
            self.offset = offset
            self.bytes = bytes
        }
    }

    /// The strong entity tag every part carried, as sent.
    public let etag: String
    /// The representation's complete length, from the parts' `Content-Range`.
    public let completeLength: Int
    /// The segments, ascending, disjoint and not adjacent.
    public private(set) var segments: [Segment]

    /// Creates an empty set.
    public init(etag: String, completeLength: Int) {
        self.etag = etag
        self.completeLength = completeLength
        self.segments = []
    }

    /// Adds `bytes` at `offset`, merging with every segment it overlaps or touches. Where they
    /// overlap the new bytes win (under one strong validator they are the same bytes anyway).
    /// Bytes past `completeLength` are dropped.
    public mutating func insert(offset: Int, bytes: [UInt8]) {
        guard offset >= 0, offset < completeLength, !bytes.isEmpty else { return }
        var start = offset
        var merged = Array(bytes.prefix(completeLength - offset))
        var kept: [Segment] = []
        for segment in segments {
            let end = start + merged.count - 1
            if segment.range.upperBound + 1 < start || segment.offset > end + 1 {
                kept.append(segment)
                continue
            }
            // Overlapping or adjacent: the old bytes before and after the new run remain.
            if segment.offset < start {
                merged = Array(segment.bytes.prefix(start - segment.offset)) + merged
                start = segment.offset
            }
            let newEnd = start + merged.count - 1
            if segment.range.upperBound > newEnd {
                merged += segment.bytes.suffix(segment.range.upperBound - newEnd)
            }
        }
        kept.append(Segment(offset: start, bytes: merged))
        segments = kept.sorted { $0.offset < $1.offset }
    }

    /// The bytes held, over all segments.
    public var byteCount: Int { segments.reduce(0) { $0 + $1.bytes.count } }

    /// Whether the parts cover the whole representation (RFC 9111 §3.4: then they are one
    /// complete response).
    public var isComplete: Bool { segments.count == 1 && segments[0].offset == 0 && segments[0].bytes.count == completeLength }

    /// Whether one segment holds all of `range`.
    public func covers(_ range: ClosedRange<Int>) -> Bool { segment(holding: range) != nil }

    /// The bytes of `range`, when one segment holds them all.
    public func bytes(in range: ClosedRange<Int>) -> ArraySlice<UInt8>? {
        guard let segment = segment(holding: range) else { return nil }
        let from = range.lowerBound - segment.offset
        return segment.bytes[from..<(from + range.count)]
    }

    private func segment(holding range: ClosedRange<Int>) -> Segment? {
        segments.first { $0.offset <= range.lowerBound && $0.range.upperBound >= range.upperBound }
    }

    /// The segments' bytes in order, as one body.
    public var body: [UInt8] { segments.flatMap(\.bytes) }

    /// The layout that goes with `body` when stored: `complete-length; first-last, …`.
    public var layout: String {
        "\(completeLength); " + segments.map { "\($0.range.lowerBound)-\($0.range.upperBound)" }.joined(separator: ", ")
    }

    /// Rebuilds a set from a stored `layout` and `body`; `nil` when they do not agree.
    public init?(etag: String, layout: String, body: [UInt8]) {
        let halves = layout.split(separator: ";", maxSplits: 1)
        guard halves.count == 2, let length = Int(exactDigits: Substring(ASCII.trimmed(String(halves[0])))) else { return nil }
        self.init(etag: etag, completeLength: length)
        var position = 0
        var previousEnd = -2
        for member in halves[1].split(separator: ",") {
            let text = Substring(ASCII.trimmed(String(member)))
            guard let dash = text.firstIndex(of: "-"), let first = Int(exactDigits: text[..<dash]),
                let last = Int(exactDigits: text[text.index(after: dash)...]), last >= first, first > previousEnd + 1,
                last < length, position + (last - first + 1) <= body.count
            else { return nil }
            segments.append(Segment(offset: first, bytes: Array(body[position..<(position + last - first + 1)])))
            position += last - first + 1
            previousEnd = last
        }
        guard position == body.count, !segments.isEmpty else { return nil }
    }
}

/// Why a 206 answer cannot join the stored parts.
public enum PartNotStorableReason: String, Sendable, Equatable {
    /// No strong entity tag: parts may only be combined under one strong validator (RFC 9111 §3.4).
    case noStrongValidator = "partial-weak-validator"
    /// No valid single-range `Content-Range` (a multipart 206 is not kept).
    case noContentRange = "partial-no-content-range"
    /// `Content-Range` with `*`: without the complete length the parts could never be completed.
    case unknownCompleteLength = "partial-unknown-length"
    /// The body's length differs from the `Content-Range`.
    case lengthMismatch = "partial-length-mismatch"
}

/// What storing a 206 part leads to.
public enum PartCombination: Sendable, Equatable {
    /// The part is not kept.
    case notStorable(PartNotStorableReason)
    /// The parts now held (the new one included), not yet the whole representation.
    case partial(StoredParts)
    /// The parts now cover the whole representation: store it as a complete 200 (RFC 9111 §3.4).
    case complete(StoredParts)
}

/// Combines a 206 answer with the parts already stored (RFC 9111 §3.3–3.4).
///
/// - The part needs a strong `ETag`, a single-range `Content-Range` with a complete length, and
///   a body exactly as long as its range; otherwise it is `.notStorable`.
/// - It joins `stored` only when both carry the same strong validator (strong comparison,
///   RFC 9110 §8.8.3.2) and the same complete length; otherwise it starts a new set (the older
///   parts belong to another representation and go).
/// - The combined response's header fields are the most recent part's (§3.4); that choice is the
///   caller's, which stores this part's fields with the result.
public func combinePart(contentRange: String?, etag: String?, body: [UInt8], into stored: StoredParts?) -> PartCombination {
    guard let etag, let tag = EntityTag(parsing: etag), !tag.isWeak else { return .notStorable(.noStrongValidator) }
    guard let contentRange, let part = ContentRange(parsing: contentRange) else { return .notStorable(.noContentRange) }
    guard let completeLength = part.completeLength else { return .notStorable(.unknownCompleteLength) }
    guard body.count == part.range.count else { return .notStorable(.lengthMismatch) }
    var parts = StoredParts(etag: etag, completeLength: completeLength)
    if let stored, stored.completeLength == completeLength, let storedTag = EntityTag(parsing: stored.etag), storedTag.stronglyMatches(tag)
    {
        parts = stored
    }
    parts.insert(offset: part.range.lowerBound, bytes: body)
    return parts.isComplete ? .complete(parts) : .partial(parts)
}

/// How to answer a request's `Range` from stored parts (RFC 9111 §3.3, RFC 9110 §14).
public enum PartialRangeResult: Sendable, Equatable {
    /// Every requested range is held: send 206 with these ranges (coalesced as for a complete
    /// representation).
    case serve([ClosedRange<Int>])
    /// No requested range overlaps the representation (its complete length is known): 416.
    case unsatisfiable
    /// Not answerable from the parts (no Range, a failed `If-Range`, or a range not held): ask
    /// the origin.
    case notCovered
}

/// Evaluates `Range` and `If-Range` against stored parts: as `evaluateRange` over the complete
/// length (so suffix `-n` and open-ended `a-` ranges resolve), then every resolved range must
/// lie within one stored segment.
public func evaluatePartialRange(_ rangeHeader: String?, ifRange: String?, parts: StoredParts, lastModified: String?)
    -> PartialRangeResult
{
    switch evaluateRange(
        rangeHeader, ifRange: ifRange, etag: parts.etag, lastModified: lastModified, contentLength: parts.completeLength)
    {
    case .full: return .notCovered
    case .unsatisfiable: return .unsatisfiable
    case .satisfiable(let ranges): return ranges.allSatisfy(parts.covers) ? .serve(ranges) : .notCovered
    }
}
