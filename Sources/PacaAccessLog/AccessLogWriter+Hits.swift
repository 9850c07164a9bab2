import Foundation
import PacaCore

/// The writer's side of the rings (`HitRing`): a flush takes each shard's hits and records
/// together (`Source`), and writes the hits straight from the rings, with the records merged
/// among them, when no tap needs them as records (`writeMerged`).
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

    /// A run of a flush's lines in the order their requests started, for `writeMerged`: one
    /// loop's hits, in its ring (in order), or one shard's records (sorted for it). Each keeps
    /// its own line before, so that its repeated lines are copies even when another run's lines
    /// come between.
    private struct Run {
        /// The index of its source, which breaks ties of timestamps as the shard order does.
        let source: Int
        let ring: HitRing?
        /// For a ring, its next position; for records, the index in `order` of the next.
        var next: Int
        let end: Int
        /// For records, their indices in the order their requests started.
        let order: [Int]
        /// For a ring, the line before when it can be repeated: its entry and its owner's position.
        var last: (entry: HitRing.Entry, owner: Int)?
        var repeated = RepeatedStrings()
    }

    /// The order key of `run`'s next line: its timestamp, then as the stable sort of the shards'
    /// records one after another (`merged()`) would have it.
    private static func key(of run: Run, in sources: [Source]) -> (UnixMillis, Int, Int, Int, Int) {
        if let ring = run.ring { return (ring.timestamp(at: run.next), run.source, run.next, 1, 0) }
        let index = run.order[run.next]
        let source = sources[run.source]
        return (source.records[index].timestamp, run.source, source.positions[index], 0, index)
    }

    /// Writes what a flush took (no tap; each ring's hits in order), then hands the hits back: the
    /// runs (`Run`) merged by the time their requests started, as the general path's sort
    /// would. A hit that repeats its loop's line before but for its times (one hot object) is
    /// the timestamp, a copy of that line's middle, its duration and a copy of its tail
    /// (`RepeatedStrings`); any other line is formatted from its record.
    func writeMerged(_ sources: [Source]) {
        defer { for source in sources { source.shard.ring.release(upTo: source.hits.upperBound) } }
        guard hasFile else {
            for source in sources {
                for position in source.hits { _ = source.shard.ring.take(at: position) }
            }
            countWritten(sources.reduce(0) { $0 + $1.hits.count + $1.records.count })
            return
        }
        var runs: [Run] = []
        for (index, source) in sources.enumerated() {
            if !source.hits.isEmpty {
                runs.append(
                    Run(source: index, ring: source.shard.ring, next: source.hits.lowerBound, end: source.hits.upperBound, order: []))
            }
            if !source.records.isEmpty {
                let records = source.records
                let order = records.indices.sorted { a, b in
                    records[a].timestamp != records[b].timestamp ? records[a].timestamp < records[b].timestamp : a < b
                }
                runs.append(Run(source: index, ring: nil, next: 0, end: order.count, order: order))
            }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bytesPerWrite, alignment: 8)
        defer { buffer.deallocate() }
        var writer = JSONLineWriter(buffer.bindMemory(to: UInt8.self))
        var lines = 0
        var timestamps = JSONLineWriter.TimestampCache()
        // Makes room for `bound` bytes: writes out what the buffer holds when they do not fit.
        func makeRoom(_ bound: Int) {
            guard writer.count + bound > Self.bytesPerWrite, writer.count > 0 else { return }
            emit(UnsafeRawBufferPointer(rebasing: buffer[..<writer.count]), lines: lines)
            writer = JSONLineWriter(buffer.bindMemory(to: UInt8.self))
            for index in runs.indices { runs[index].repeated.forget() }
            lines = 0
            sched_yield()
        }
        while true {
            // The run whose next line started first (one or two runs, most of the time).
            var pick = -1
            var best = (UnixMillis.max, 0, 0, 0, 0)
            for index in runs.indices where runs[index].next < runs[index].end {
                let key = Self.key(of: runs[index], in: sources)
                if pick < 0 || key < best {
                    pick = index
                    best = key
                }
            }
            guard pick >= 0 else { break }
            let next = runs[pick].next
            runs[pick].next += 1
            guard let ring = runs[pick].ring else {
                let index = runs[pick].order[next]
                sources[runs[pick].source].records.withUnsafeBufferPointer { records in
                    let record = records.baseAddress! + index
                    var repeats = runs[pick].repeated.repeatsLine(record, strings: record, newline: true)
                    let bound = repeats ? runs[pick].repeated.repeatedLineBound : record.pointee.maximumJSONBytes
                    if writer.count + bound > Self.bytesPerWrite {
                        makeRoom(bound)
                        repeats = false
                    }
                    let full = repeats ? bound : record.pointee.maximumJSONBytes
                    if full > Self.bytesPerWrite {
                        emitAlone(record, bound: full, timestamps: &timestamps)
                    } else {
                        AccessLogRecord.write(
                            record, strings: record, to: &writer, timestamps: &timestamps, repeated: &runs[pick].repeated,
                            bound: full, newline: true, repeats: repeats)
                        lines += 1
                    }
                }
                continue
            }
            let entry = ring.take(at: next)
            let owner = ring.owner(of: entry)
            if let before = runs[pick].last, before.owner == owner, HitRing.sameLine(before.entry, entry),
                runs[pick].repeated.middle.offset >= 0, writer.count + runs[pick].repeated.repeatedLineBound <= Self.bytesPerWrite
            {
                writer.reserve(runs[pick].repeated.repeatedLineBound)
                writer.literal(#"{"ts":""#)
                timestamps.write(entry.timestamp, to: &writer)
                writer.copyWritten(runs[pick].repeated.middle)
                writer.literal(#"","ms":"#)
                writer.thousandths((entry.nanoseconds + 500) / 1000)
                writer.literal(#","origin_ms":null"#)
                writer.copyWritten(runs[pick].repeated.tail)
                lines += 1
                continue
            }
            var record = ring.record(of: entry)
            let bound = record.maximumJSONBytes
            makeRoom(bound)
            if bound > Self.bytesPerWrite {
                withUnsafePointer(to: &record) { emitAlone($0, bound: bound, timestamps: &timestamps) }
                runs[pick].last = nil
                continue
            }
            withUnsafePointer(to: &record) { record in
                AccessLogRecord.write(
                    record, strings: record, to: &writer, timestamps: &timestamps, repeated: &runs[pick].repeated, bound: bound,
                    newline: true)
            }
            lines += 1
            runs[pick].last = (entry, owner)
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
