/// Runs `body` now, then every `interval` until the task is cancelled (the ban and reload syncs
/// poll L3 this way).
func periodically(every interval: Duration, _ body: () async -> Void) async {
    await body()
    while !Task.isCancelled {
        do {
            try await Task.sleep(for: interval)
        } catch {
            return
        }
        await body()
    }
}
