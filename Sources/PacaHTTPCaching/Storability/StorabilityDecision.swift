/// The result of `evaluateStorability`: store with a plan, or a reason not to.
public enum StorabilityDecision: Sendable, Equatable {
    /// Store the response; the plan carries the metadata to keep with it.
    case store(StoragePlan)
    /// Do not store; the reason becomes the `Cache-Status` `detail`.
    case doNotStore(NotStorableReason)

    /// The plan when storing, else `nil`.
    public var plan: StoragePlan? {
        if case .store(let p) = self { return p }
        return nil
    }

    /// The reason when not storing, else `nil`.
    public var reason: NotStorableReason? {
        if case .doNotStore(let r) = self { return r }
        return nil
    }
}
