import NIOCore

/// Where an entry's mirror for `sendfile` stands.
enum BodyMirror: Sendable {
    /// Not made yet, or taken back by the budget.
    case untried
    /// The budget had no free room when last asked: the next ask may take back mirrors not
    /// sent lately to make it (a body must be asked for twice before it pushes another out, so
    /// a working set larger than the budget does not copy bodies in and out on every hit).
    case declined
    case made(BodyFile)
    /// The system refused once; the body is written from memory for good.
    case unavailable
}

extension CacheEntry {
    /// The body in an in-memory file for `sendfile`, made on the first call (one copy, once per
    /// entry while it keeps its mirror) when `budget` has room; `nil` when it has none or the
    /// system refuses, and the body is then written from memory as before. Every connection that
    /// serves the entry shares the mirror; it goes with the entry, or earlier when the budget
    /// takes it back for a body sent more lately.
    public func bodyFile(budget: BodyFileBudget) -> BodyFile? {
        let evict: Bool
        switch mirror.withLock({ $0 }) {
        case .made(let file): return file
        case .unavailable: return nil
        case .untried: evict = false
        case .declined: evict = true
        }
        // Made outside the entry's lock: making room takes other entries' locks, one at a time.
        let outcome = budget.mirror(self, evict: evict)
        return mirror.withLock { state -> BodyFile? in
            switch (state, outcome) {
            case (.made(let file), _):
                // Another loop made one meanwhile; ours goes and gives its room back.
                return file
            case (_, .made(let file)):
                state = .made(file)
                return file
            case (_, .failed):
                state = .unavailable
                return nil
            case (_, .overBudget):
                state = .declined
                return nil
            }
        }
    }

    /// Lets go of the mirror (the budget needs its room); writes still using it keep it until
    /// they finish.
    func dropMirror() {
        mirror.withLock { state in
            if case .made = state { state = .untried }
        }
    }
}
