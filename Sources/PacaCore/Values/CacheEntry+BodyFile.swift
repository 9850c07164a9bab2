import NIOCore

/// Where an entry's mirror for `sendfile` stands.
enum BodyMirror: Sendable {
    /// Not made yet (or the budget was spent when last asked).
    case untried
    case made(BodyFile)
    /// The system refused once; the body is written from memory for good.
    case unavailable
}

extension CacheEntry {
    /// The body in an in-memory file for `sendfile`, made on the first call (one copy, once per
    /// entry) while `budget` has room; `nil` when over the budget or
    /// the system refuses, and the body is then written from memory as before. Entries share a
    /// mirror with every connection that serves them; it goes when the entry does.
    public func bodyFile(budget: BodyFileBudget) -> BodyFile? {
        mirror.withLock { state -> BodyFile? in
            switch state {
            case .made(let file):
                return file
            case .unavailable:
                return nil
            case .untried:
                switch BodyFile.make(copying: body, budget: budget) {
                case .made(let file):
                    state = .made(file)
                    return file
                case .overBudget:
                    return nil
                case .failed:
                    state = .unavailable
                    return nil
                }
            }
        }
    }
}
