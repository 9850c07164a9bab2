import Foundation

/// The writer's side of the rings (`HitRing`): a flush takes each shard's hits and records
/// together (`Source`), and writes one loop's hits straight from its ring when they are all
/// there is (`writeHits`).
extension AccessLogWriter {
    /// What a flush took from one shard: the positions of its ring's hits, and the records of
    /// its locked side with the ring's position when each was queued.
    struct Source {
        let shard: AccessLogShard
        let hits: Range<Int>
        var records: [AccessLogRecord]
        var positions: [Int]

        /// The hits as records, with the shard's records among them where their thread queued
        /// them (a record queued at ring position p comes before the hit at p); the hits are
        /// handed back to the ring.
        func merged() -> [AccessLogRecord] {
            let ring = shard.ring
            var merged: [AccessLogRecord] = []
            merged.reserveCapacity(hits.count + records.count)
            var next = 0
            for position in hits {
                let entry = ring.take(at: position)
                while next < records.count, positions[next] <= position {
                    merged.append(records[next])
                    next += 1
                }
                merged.append(ring.record(of: entry))
            }
            merged.append(contentsOf: records[next...])
            ring.release(upTo: hits.upperBound)
            return merged
        }
    }

    /// Writes the hits at `hits` of `ring` (the batch's only records, in order), then hands them
    /// back. A hit that repeats the line before but for its times (one hot object) is the
    /// timestamp, a copy of that line's middle, its duration and a copy of its tail
    /// (`RepeatedStrings`); any other is formatted as its record.
    func writeHits(_ ring: HitRing, _ hits: Range<Int>) {
        defer { ring.release(upTo: hits.upperBound) }
        guard hasFile else {
            for position in hits { _ = ring.take(at: position) }
            countWritten(hits.count)
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bytesPerWrite, alignment: 8)
        defer { buffer.deallocate() }
        var writer = JSONLineWriter(buffer.bindMemory(to: UInt8.self))
        var lines = 0
        var timestamps = JSONLineWriter.TimestampCache()
        var repeated = RepeatedStrings()
        // The line before, when it can be repeated: its entry and the position of its owner.
        var last: (entry: HitRing.Entry, owner: Int)?
        for position in hits {
            let entry = ring.take(at: position)
            let owner = ring.owner(of: entry)
            if let before = last, before.owner == owner, HitRing.sameLine(before.entry, entry), repeated.middle.offset >= 0,
                writer.count + repeated.repeatedLineBound <= Self.bytesPerWrite
            {
                writer.reserve(repeated.repeatedLineBound)
                writer.literal(#"{"ts":""#)
                timestamps.write(entry.timestamp, to: &writer)
                writer.copyWritten(repeated.middle)
                writer.literal(#"","ms":"#)
                writer.thousandths((entry.nanoseconds + 500) / 1000)
                writer.literal(#","origin_ms":null"#)
                writer.copyWritten(repeated.tail)
                lines += 1
                continue
            }
            var record = ring.record(of: entry)
            let bound = record.maximumJSONBytes
            if writer.count + bound > Self.bytesPerWrite, writer.count > 0 {
                emit(UnsafeRawBufferPointer(rebasing: buffer[..<writer.count]), lines: lines)
                writer = JSONLineWriter(buffer.bindMemory(to: UInt8.self))
                repeated.forget()
                lines = 0
                sched_yield()
            }
            if bound > Self.bytesPerWrite {
                withUnsafePointer(to: &record) { emitAlone($0, bound: bound, timestamps: &timestamps) }
                last = nil
                continue
            }
            withUnsafePointer(to: &record) { record in
                AccessLogRecord.write(
                    record, strings: record, to: &writer, timestamps: &timestamps, repeated: &repeated, bound: bound, newline: true)
            }
            lines += 1
            last = (entry, owner)
        }
        if writer.count > 0 { emit(UnsafeRawBufferPointer(rebasing: buffer[..<writer.count]), lines: lines) }
    }

    /// Formats and writes the line of the record at `record`, longer than the writer's buffer
    /// (a very long URL), on its own.
    func emitAlone(_ record: UnsafePointer<AccessLogRecord>, bound: Int, timestamps: inout JSONLineWriter.TimestampCache) {
        let line = [UInt8](unsafeUninitializedCapacity: bound) { line, count in
            var writer = JSONLineWriter(line)
            var alone = RepeatedStrings()
            AccessLogRecord.write(
                record, strings: record, to: &writer, timestamps: &timestamps, repeated: &alone, bound: bound, newline: true)
            count = writer.count
        }
        line.withUnsafeBytes { emit($0, lines: 1) }
    }
}
