/// Which entry a full memory shard gives up first.
public enum EvictionPolicy: String, Sendable, CaseIterable {
    /// Least recently used.
    case lru
    /// Least frequently used; ties broken by least recently used.
    case lfu
    /// First in, first out: reads do not reorder.
    case fifo
}
