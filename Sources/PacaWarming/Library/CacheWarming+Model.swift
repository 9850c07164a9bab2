extension CacheWarming {
    /// Saves the model to `path` (atomically, in `WarmingModel`'s file format), so a restarted
    /// application keeps what it learnt. Throws `WarmingModelFileError`.
    public func saveModel(to path: String) throws {
        let model = state.withLock { $0.model }
        try model.save(to: path, savedAt: clock.now())
    }

    /// Replaces the model with the one saved at `path` (with the parameters it was saved with).
    /// Throws `WarmingModelFileError` and keeps the current model when the file cannot be used.
    public func loadModel(from path: String) throws {
        let model = try WarmingModel.load(from: path)
        state.withLock { $0.model = model }
    }
}
