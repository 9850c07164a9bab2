public import PacaCore

/// The queue and what comes back: jobs wait in priority order, leave within the pacer's budget,
/// and their outcomes teach the planner what the cache holds and the pacer how the origin is.
extension WarmingPlanner {
    /// Queues `job` unless its key is in flight; a queued job for the key is replaced when the new
    /// one goes first. A full queue drops whichever of the new job and its last job goes last.
    mutating func enqueue(_ job: WarmJob) {
        guard inFlight[job.key] == nil else { return }
        if let existing = queue[job.key] {
            if job.precedes(existing) { queue[job.key] = job }
            return
        }
        if queue.count >= configuration.maxQueue {
            guard let last = queue.values.max(by: { $0.precedes($1) }), job.precedes(last) else {
                dropped += 1
                return
            }
            queue[last.key] = nil
            dropped += 1
        }
        queue[job.key] = job
    }

    // MARK: - Sending

    /// The jobs to send at `now`: promotions up to their own limit, then origin jobs within the
    /// pacer's rate and concurrency, in priority order. Each is in flight until `completed`.
    public mutating func dispatch(at now: UnixMillis) -> [WarmJob] {
        guard !queue.isEmpty else { return [] }
        var sent: [WarmJob] = []
        var promotions = inFlight.values.filter { $0.mode == .promote }.count
        var originJobs = inFlight.count - promotions
        let mayPromote = promotions < configuration.maxPromotions && queue.values.contains { $0.mode == .promote }
        guard mayPromote || pacer.maySend(at: now, inFlight: originJobs) else { return [] }
        let ordered = queue.values.sorted { $0.precedes($1) }
        for job in ordered {
            if job.mode == .promote {
                guard promotions < configuration.maxPromotions else { continue }
                promotions += 1
            } else {
                guard pacer.maySend(at: now, inFlight: originJobs) else { continue }
                pacer.sent(at: now)
                originJobs += 1
            }
            queue[job.key] = nil
            inFlight[job.key] = job
            sent.append(job)
        }
        return sent
    }

    /// When `dispatch` may next have something to send (`nil`: nothing queued).
    /// A completion dispatches too, so a queue held back only by concurrency has no time.
    public func nextDispatch(after now: UnixMillis) -> UnixMillis? {
        guard !queue.isEmpty else { return nil }
        let promotions = inFlight.values.filter { $0.mode == .promote }.count
        if promotions < configuration.maxPromotions, queue.values.contains(where: { $0.mode == .promote }) { return now }
        guard inFlight.count - promotions < pacer.maxConcurrency, queue.values.contains(where: { $0.mode != .promote }) else {
            return nil
        }
        return max(now, pacer.earliestSend)
    }

    /// Records what a sent job did.
    public mutating func completed(_ job: WarmJob, with outcome: WarmOutcome, at now: UnixMillis) {
        inFlight[job.key] = nil
        let previousExpiry = entries.peek(job.key)?.expiry
        func learn(_ entry: WarmOutcome.Entry) {
            setEntry(KnownEntry(expiry: entry.expiry, lifetime: entry.lifetime), for: job.key)
        }
        switch outcome {
        case .fresh(let entry):
            learn(entry)
            ledger.countAlreadyFresh()
        case .promoted(let entry, _):
            learn(entry)
            ledger.countPromotion()
            ledger.warmed(job.key, at: now, expiry: entry.expiry, missFrom: now, reason: job.reason)
        case .fetched(let entry, let millis, _):
            ledger.countOriginRequest(failed: false)
            pacer.succeeded(originMillis: millis, at: now)
            if entry.lifetime > 0 {
                learn(entry)
                let missFrom = max(now, previousExpiry ?? now)
                ledger.warmed(job.key, at: now, expiry: entry.expiry, missFrom: missFrom, reason: job.reason)
            }
        case .notCached:
            enqueue(WarmJob(key: job.key, url: job.url, host: job.host, mode: .fill, reason: job.reason, score: job.score))
        case .alreadyFilling, .skipped:
            break
        case .notStored(let status, let millis):
            ledger.countOriginRequest(failed: status >= 500)
            if status >= 500 {
                pacer.failed(at: now)
            } else {
                pacer.succeeded(originMillis: millis, at: now)
            }
        case .failed:
            ledger.countOriginRequest(failed: true)
            pacer.failed(at: now)
        }
    }
}
