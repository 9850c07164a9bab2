import NIOCore
public import PacaCore

/// The nodes' fill lock (`SharedFillLock`) on the L3 Redis, single server or cluster.
///
/// - Acquire: `SET <lock> <token> NX PX <lockTimeout>` pipelined with `GET <lock>`, one round
///   trip: `OK` means this node fills; otherwise the `GET` tells a holder's token (wait) from the
///   pass marker (fetch at once).
/// - Wait: `GET <lock>` polled with a short back-off (`FillLockWait`) until the lock is gone,
///   turns into the pass marker, or `lockTimeout` has passed. Polling, not `PUBLISH`: pub/sub
///   needs a subscribed connection per node (per master in a cluster, `SSUBSCRIBE` per slot) and
///   drops messages, so a poll would still be needed as the fallback; only the one local leader
///   per key and node polls, the other requests wait on it in memory.
/// - Release: one `EVAL` that compares the token and then deletes the lock, or replaces it with
///   the pass marker for `passMarkerLifetime` (a stale holder whose lock expired and was taken by
///   another node changes nothing). One key per script, so no `CROSSSLOT` in a cluster.
///
/// The lock key is `{<entry key>}:lock`: its hash tag is the entry's whole Redis key, so it
/// lives in the entry's slot, on the same master. It does not match the sweep's `<namespace>:e:*`.
///
/// Every command goes through the tier's circuit breaker and timeout: a slow or dead Redis
/// makes `acquire` answer `unavailable` (fetch, coalescing per node only) within one timeout, and
/// an open breaker answers it at once.
public final class RedisFillLock: SharedFillLock {
    /// The tier whose Redis holds the locks.
    public let tier: RedisTier
    /// The lock's `PX` and the longest wait. Default 3 s.
    public let lockTimeout: Duration
    /// How long the pass marker stays: while it does, misses on other nodes fetch without
    /// waiting. Default 1 s.
    public let passMarkerLifetime: Duration
    private let sleeper: any Clock<Duration>

    /// The value that marks a fill whose answer is not shared (tokens are 32 hex digits, so
    /// never equal to it).
    static let passMarker = "pass"

    /// Compares `ARGV[1]` with the lock's value; when it is still the caller's, deletes the lock
    /// (`ARGV[2]` empty) or sets it to `ARGV[2]` for `ARGV[3]` ms. Returns 1 when it acted.
    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
          redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
          return 1
        end
        return 0
        """

    /// Creates the lock on `tier`'s Redis. `sleeper` paces the polls of a wait (default the
    /// real clock).
    public init(
        tier: RedisTier, lockTimeout: Duration = .seconds(3), passMarkerLifetime: Duration = .seconds(1),
        sleeper: any Clock<Duration> = ContinuousClock()
    ) {
        self.tier = tier
        self.lockTimeout = max(lockTimeout, .milliseconds(1))
        self.passMarkerLifetime = max(passMarkerLifetime, .milliseconds(1))
        self.sleeper = sleeper
    }

    /// The Redis key of the lock for cache key `key`: in the slot of the entry's key.
    public func lockKey(for key: String) -> String {
        Self.lockKey(forEntryKey: tier.redisKey(for: key))
    }

    /// `{<entry key>}:lock` when the entry key has no braces (its slot is the CRC16 of the whole
    /// key, which is then the lock's hash tag); `<entry key>:lock` when it has a hash tag of its
    /// own (a namespace with braces), which the lock key shares.
    static func lockKey(forEntryKey entryKey: String) -> String {
        if entryKey.contains("{") || entryKey.contains("}") { return entryKey + ":lock" }
        return "{" + entryKey + "}:lock"
    }

    public func acquire(_ key: String) async -> SharedFillAcquisition {
        let name = lockKey(for: key)
        let token = Self.newToken()
        let lock = ByteBuffer(string: name)
        let result = await tier.perform(
            key: name,
            [
                [
                    ByteBuffer(string: "SET"), lock, ByteBuffer(string: token), ByteBuffer(string: "NX"), ByteBuffer(string: "PX"),
                    ByteBuffer(string: String(lockTimeout.milliseconds)),
                ],
                [ByteBuffer(string: "GET"), lock],
            ])
        guard case .success(let replies) = result, replies.count == 2 else { return .unavailable }
        switch replies[0] {
        case .status("OK"): return .acquired(SharedFillLease(key: key, token: token))
        case .null:
            // Lost the race: the GET says to whom. A lock gone by now (expired, released) is
            // "held" for an instant; the first poll sees it free.
            if case .bulk(let value) = replies[1], String(buffer: value) == Self.passMarker { return .pass }
            return .heldElsewhere
        default:
            return .unavailable
        }
    }

    public func waitForRelease(_ key: String) async -> SharedFillWaitResult {
        await waitForRelease(key, clock: sleeper)
    }

    private func waitForRelease<C: Clock<Duration>>(_ key: String, clock sleeper: C) async -> SharedFillWaitResult {
        let name = lockKey(for: key)
        let command = [ByteBuffer(string: "GET"), ByteBuffer(string: name)]
        var wait = FillLockWait(limit: lockTimeout)
        let start = sleeper.now
        while true {
            let observation: FillLockWait.Observation
            switch await tier.perform(key: name, [command]) {
            case .success(let replies):
                switch replies.first {
                case .null: observation = .absent
                case .bulk(let value): observation = String(buffer: value) == Self.passMarker ? .pass : .held
                default: observation = .failed
                }
            case .failure:
                observation = .failed
            }
            switch wait.observed(observation, elapsed: start.duration(to: sleeper.now)) {
            case .finish(let result): return result
            case .poll(let delay):
                do {
                    try await sleeper.sleep(for: delay)
                } catch {
                    return .unavailable
                }
            }
        }
    }

    public func release(_ lease: SharedFillLease, outcome: SharedFillRelease) async {
        let name = lockKey(for: lease.key)
        let marker = outcome == .notShared ? Self.passMarker : ""
        _ = await tier.perform(
            key: name,
            [
                [
                    ByteBuffer(string: "EVAL"), ByteBuffer(string: Self.releaseScript), ByteBuffer(string: "1"), ByteBuffer(string: name),
                    ByteBuffer(string: lease.token), ByteBuffer(string: marker),
                    ByteBuffer(string: String(passMarkerLifetime.milliseconds)),
                ]
            ])
    }

    /// 128 random bits as 32 hex digits.
    static func newToken() -> String {
        var random = SystemRandomNumberGenerator()
        let high = String(random.next() as UInt64, radix: 16)
        let low = String(random.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}
