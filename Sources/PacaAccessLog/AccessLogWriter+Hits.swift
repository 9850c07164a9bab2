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
        /// Unretained: the flush's sources hold the rings.
        let ring: Unmanaged<HitRing>?
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
    @inline(__always)
    private static func key(of run: UnsafeMutablePointer<Run>, in sources: [Source]) -> (UnixMillis, Int, Int, Int, Int) {
        let next = run.pointee.next
        if let ring = run.pointee.ring {
            return (ring._withUnsafeGuaranteedRef { $0.timestamp(at: next) }, run.pointee.source, next, 1, 0)
        }
        let index = run.pointee.order[next]
        let source = run.pointee.source
        return (sources[source].records[index].timestamp, source, sources[source].positions[index], 0, index)
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
                    Run(
                        source: index, ring: Unmanaged.passUnretained(source.shard.ring), next: source.hits.lowerBound,
                        end: source.hits.upperBound, order: []))
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
        var out = LineBuffer(buffer)
        // Through a pointer: no uniqueness or exclusivity check on each access to a run.
        runs.withUnsafeMutableBufferPointer { runs in
            while true {
                // The run whose next line started first (one or two runs, most of the time; one,
                // one loop's hits, needs no comparison).
                var pick = -1
                var best = (UnixMillis.max, 0, 0, 0, 0)
                if runs.count == 1 {
                    if runs[0].next < runs[0].end { pick = 0 }
                } else {
                    for index in runs.indices where runs[index].next < runs[index].end {
                        let key = Self.key(of: runs.baseAddress! + index, in: sources)
                        if pick < 0 || key < best {
                            pick = index
                            best = key
                        }
                    }
                }
                guard pick >= 0 else { break }
                let run = runs.baseAddress! + pick
                let next = run.pointee.next
                run.pointee.next += 1
                guard let ring = run.pointee.ring else {
                    writeRecord(sources[run.pointee.source].records, at: run.pointee.order[next], run: run, runs: runs, to: &out)
                    continue
                }
                let (entry, owner) = ring._withUnsafeGuaranteedRef { ring in
                    let entry = ring.take(at: next)
                    return (entry, ring.owner(of: entry))
                }
                if let before = run.pointee.last, HitRing.sameLine(before.entry, entry),
                    ring._withUnsafeGuaranteedRef({ $0.sameStrings(entry, owner: owner, as: before.entry, owner: before.owner) }),
                    run.pointee.repeated.middle.offset >= 0,
                    out.writer.count + run.pointee.repeated.repeatedLineBound <= Self.bytesPerWrite
                {
                    out.writer.reserve(run.pointee.repeated.repeatedLineBound)
                    out.writer.literal(#"{"ts":""#)
                    out.timestamps.write(entry.timestamp, to: &out.writer)
                    out.writer.copyWritten(run.pointee.repeated.middle)
                    out.writer.literal(#"","ms":"#)
                    out.writer.thousandths((entry.nanoseconds + 500) / 1000)
                    out.writer.literal(#","origin_ms":null"#)
                    out.writer.copyWritten(run.pointee.repeated.tail)
                    out.lines += 1
                    continue
                }
                var record = ring._withUnsafeGuaranteedRef { $0.record(of: entry) }
                let bound = record.maximumJSONBytes
                makeRoom(bound, in: &out, runs: runs)
                if bound > Self.bytesPerWrite {
                    withUnsafePointer(to: &record) { emitAlone($0, bound: bound, timestamps: &out.timestamps) }
                    run.pointee.last = nil
                    continue
                }
                withUnsafePointer(to: &record) { record in
                    AccessLogRecord.write(
                        record, to: &out.writer, timestamps: &out.timestamps, repeated: &run.pointee.repeated,
                        bound: bound, newline: true)
                }
                out.lines += 1
                run.pointee.last = (entry, owner)
            }
        }
        if out.writer.count > 0 { emit(UnsafeRawBufferPointer(rebasing: buffer[..<out.writer.count]), lines: out.lines) }
    }

    /// Writes `records`, in their order, as one run (`writeRecord`): the general path, when a
    /// tap takes the records too.
    func writeRecords(_ records: [AccessLogRecord]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bytesPerWrite, alignment: 8)
        defer { buffer.deallocate() }
        var out = LineBuffer(buffer)
        var runs = [Run(source: 0, ring: nil, next: 0, end: records.count, order: [])]
        runs.withUnsafeMutableBufferPointer { runs in
            for index in records.indices { writeRecord(records, at: index, run: runs.baseAddress!, runs: runs, to: &out) }
        }
        if out.writer.count > 0 { emit(UnsafeRawBufferPointer(rebasing: buffer[..<out.writer.count]), lines: out.lines) }
    }

    /// The buffer a flush formats its lines into, and what it knows of them. It is written out
    /// each time it fills, yielding the core between writes: on a core shared with an event
    /// loop, a flush takes it from the loop a buffer at a time, not for the whole batch (which
    /// showed as the loop's p99). Records are read in place, never copied out of their array (a
    /// copy retains and releases each of their strings).
    private struct LineBuffer {
        let buffer: UnsafeMutableRawBufferPointer
        var writer: JSONLineWriter
        var lines = 0
        var timestamps = JSONLineWriter.TimestampCache()

        init(_ buffer: UnsafeMutableRawBufferPointer) {
            self.buffer = buffer
            writer = JSONLineWriter(buffer.bindMemory(to: UInt8.self))
        }
    }

    /// Makes room for `bound` bytes in `out`: writes out what it holds when they do not fit (and
    /// the runs' lines before are gone with it), yielding the core between writes.
    private func makeRoom(_ bound: Int, in out: inout LineBuffer, runs: UnsafeMutableBufferPointer<Run>) {
        guard out.writer.count + bound > Self.bytesPerWrite, out.writer.count > 0 else { return }
        emit(UnsafeRawBufferPointer(rebasing: out.buffer[..<out.writer.count]), lines: out.lines)
        out.writer = JSONLineWriter(out.buffer.bindMemory(to: UInt8.self))
        for index in runs.indices { runs[index].repeated.forget() }
        out.lines = 0
        sched_yield()
    }

    /// Writes the record at `index` of `records`, the next line of records run `run`.
    private func writeRecord(
        _ records: [AccessLogRecord], at index: Int, run: UnsafeMutablePointer<Run>, runs: UnsafeMutableBufferPointer<Run>,
        to out: inout LineBuffer
    ) {
        records.withUnsafeBufferPointer { records in
            let record = records.baseAddress! + index
            var repeats = run.pointee.repeated.repeatsLine(record, newline: true)
            var bound = repeats ? run.pointee.repeated.repeatedLineBound : record.pointee.maximumJSONBytes
            if out.writer.count + bound > Self.bytesPerWrite {
                makeRoom(bound, in: &out, runs: runs)
                repeats = false
                bound = record.pointee.maximumJSONBytes
            }
            if bound > Self.bytesPerWrite {
                emitAlone(record, bound: bound, timestamps: &out.timestamps)
                return
            }
            AccessLogRecord.write(
                record, to: &out.writer, timestamps: &out.timestamps, repeated: &run.pointee.repeated, bound: bound,
                newline: true, repeats: repeats)
            out.lines += 1
        }
    }

    /// Formats and writes the line of the record at `record`, longer than the writer's buffer
    /// (a very long URL), on its own.
    func emitAlone(_ record: UnsafePointer<AccessLogRecord>, bound: Int, timestamps: inout JSONLineWriter.TimestampCache) {
        let line = [UInt8](unsafeUninitializedCapacity: bound) { line, count in
            var writer = JSONLineWriter(line)
            var alone = RepeatedStrings()
            AccessLogRecord.write(
                record, to: &writer, timestamps: &timestamps, repeated: &alone, bound: bound, newline: true)
            count = writer.count
        }
        line.withUnsafeBytes { emit($0, lines: 1) }
    }
}
