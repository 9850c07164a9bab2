import Logging
import PacaAdmin
import PacaRedis
import Synchronization

/// Where the reload generation lives: L3 (`RedisTier`); a protocol so a test can choose when
/// an announce returns relative to a sync.
protocol ReloadChannel: Sendable {
    /// Increments the generation; returns the new one.
    func announceReload() async throws -> Int64
    /// The current generation.
    func reloadGeneration() async throws -> Int64
}

extension RedisTier: ReloadChannel {}

/// Broadcasts configuration reloads between the nodes on one Redis (`POST /reload` with
/// `{"all": true}`): the node asked increments `<namespace>:reload`; every node reads that
/// generation every `interval` and, when it grew, re-reads its OWN configuration file. A node
/// whose file does not load keeps its running configuration and counts and logs the refusal;
/// nothing is sent between nodes but the generation, so a broadcast is one integer whatever the
/// number of nodes or reloads.
final class ReloadSync: Sendable {
    /// The last generation this node acted on.
    private enum Position {
        /// Not read yet: the first read is the baseline (the node read its file at start).
        case unread
        case seen(Int64)
    }

    /// Whether Redis answered the last read, so a failure is logged once, not every second.
    private enum Link {
        case healthy
        case failing
    }

    private struct State {
        var position = Position.unread
        var link = Link.healthy
        /// Broadcasts from this node whose generation is not known yet. While one is, a sync
        /// may read that very generation before `reloadEverywhere` records it: it stands aside
        /// (this node has just read its file), and the next sync judges the generation.
        var announcing = 0
    }

    let redis: any ReloadChannel
    let reloader: Reloader
    let logger: Logger
    private let state = Mutex(State())

    init(redis: any ReloadChannel, reloader: Reloader, logger: Logger) {
        self.redis = redis
        self.reloader = reloader
        self.logger = logger
    }

    /// Reloads here, then tells every other node to reload; the answer of `POST /reload` with
    /// `{"all": true}`. The broadcast goes out even when this node's file is refused: each node
    /// judges its own file.
    func reloadEverywhere() async -> Result<String, AdminError> {
        let local = reloader.apply()
        state.withLock { $0.announcing += 1 }
        let generation: Int64
        do {
            generation = try await redis.announceReload()
        } catch {
            state.withLock { $0.announcing -= 1 }
            let here =
                switch local {
                case .success: "reloaded here"
                case .failure(let refusal): "refused here (\(refusal.message))"
                }
            return .failure(AdminError(.serviceUnavailable, "\(here), but the broadcast through L3 failed: \(error)"))
        }
        reloader.counters.noteBroadcastSent()
        // This node has already reloaded: it must not do it again when it reads the generation.
        state.withLock { state in
            state.announcing -= 1
            switch state.position {
            case .seen(let seen) where seen >= generation: break
            default: state.position = .seen(generation)
            }
        }
        switch local {
        case .success(let next):
            return .success(
                ProxyApplication.json(
                    [
                        "reloaded": true, "file": reloader.file, "routes": next.routes.count, "warnings": next.warnings,
                        "broadcast": generation,
                    ] as [String: Any]))
        case .failure(let refusal):
            return .failure(
                AdminError(refusal.status, "\(refusal.message); the reload was still broadcast (generation \(generation))"))
        }
    }

    /// Reads the generation and reloads when another node announced a newer one; returns whether
    /// it reloaded (applied or refused).
    @discardableResult
    func sync() async -> Bool {
        let generation: Int64
        do {
            generation = try await redis.reloadGeneration()
        } catch {
            let first = state.withLock { state -> Bool in
                defer { state.link = .failing }
                return state.link == .healthy
            }
            if first { logger.warning("L3 reload broadcast unreadable; retrying", metadata: ["error": "\(error)"]) }
            return false
        }
        // The reload runs under the lock (it is synchronous and reads one small file), so a sync
        // that returns has seen every reload due, even one another sync started.
        let (outcome, recovered) = state.withLock { state -> (Result<PacaConfiguration, AdminError>?, Bool) in
            let recovered = state.link == .failing
            state.link = .healthy
            guard state.announcing == 0 else { return (nil, recovered) }
            switch state.position {
            case .unread:
                state.position = .seen(generation)
                return (nil, recovered)
            case .seen(let seen):
                guard generation > seen else { return (nil, recovered) }
                state.position = .seen(generation)
                reloader.counters.noteBroadcastReceived()
                return (reloader.apply(), recovered)
            }
        }
        if recovered { logger.info("L3 reload broadcast readable again") }
        switch outcome {
        case nil:
            return false
        case .success:
            logger.notice("configuration reloaded (broadcast)", metadata: ["file": "\(reloader.file)", "generation": "\(generation)"])
        case .failure(let refusal):
            logger.error(
                "broadcast reload refused; the running configuration is unchanged",
                metadata: ["file": "\(reloader.file)", "generation": "\(generation)", "error": "\(refusal.message)"])
        }
        return true
    }

    /// Syncs every `interval` until the task is cancelled.
    func run(interval: Duration) async {
        await periodically(every: interval) { _ = await sync() }
    }
}
