/// Which entry a full memory shard gives up first.
public enum EvictionPolicy: String, Sendable, CaseIterable {
    /// Least recently used.
    case lru
    /// Least frequently used; ties broken by least recently used.
    case lfu
    /// First in, first out: reads do not reorder.
    case fifo
    /// W-TinyLFU (Caffeine's design): new entries enter a small LRU window (1% of a shard's
    /// bytes); an entry leaving the window enters the segmented-LRU main area (probation 20%,
    /// protected 80%) only if a frequency sketch says it is asked for more often than the entry it
    /// would displace. Scans and one-hit wonders pass through the window without flushing the
    /// hot set. Refused entries are "cold" (`MemoryCache.SetResult.rejected`).
    case tinyLFU = "tinylfu"
}
