import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small number given to each thread the first time it asks, round robin: event-loop threads
/// get distinct numbers, so each can own a shard of a structure and never contend with another
/// loop for its lock or its counters' cache line. Reading it is one `pthread_getspecific`.
public enum ThreadSlot {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()
    private static let next = Atomic<Int>(0)

    /// This thread's number: 0, 1, 2 … in the order threads first asked.
    public static var current: Int {
        if let stored = pthread_getspecific(key) { return Int(bitPattern: stored) - 1 }
        let slot = next.add(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot + 1))
        return slot
    }
}
