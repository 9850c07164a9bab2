import PacaAdmin
import PacaEngine
import PacaServer
import Synchronization

/// Why the application cannot start.
public enum ApplicationError: Error, CustomStringConvertible {
    /// The admin token is missing or unusable.
    case adminToken(String)
    /// The encryption key (`storage.encryption`) is missing or unusable.
    case encryptionKey(String)

    public var description: String {
        switch self {
        case .adminToken(let message): message
        case .encryptionKey(let message): message
        }
    }
}

/// The configuration in force, replaced by reloads.
final class ConfigurationState: Sendable {
    private let state: Mutex<PacaConfiguration>

    init(_ configuration: PacaConfiguration) {
        state = Mutex(configuration)
    }

    var value: PacaConfiguration {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// Hot reload: re-reads the configuration file, refuses what needs a restart, and swaps the
/// routes and trusted proxies into the engine in one atomic store (requests in flight finish on
/// the route they matched). A file that does not load leaves everything as it was.
struct Reloader: Sendable {
    let file: String
    let state: ConfigurationState
    let engine: ProxyEngine
    let counters: ReloadCounters

    /// Reloads and answers as `POST /reload` does: a JSON document, or why the file was refused.
    func reload() -> Result<String, AdminError> {
        apply().map { next in
            ProxyApplication.json(
                ["reloaded": true, "file": file, "routes": next.routes.count, "warnings": next.warnings] as [String: Any])
        }
    }

    /// Reloads; returns the configuration now in force, or why the file was refused (then the
    /// running configuration is unchanged). Counted in `counters` either way.
    func apply() -> Result<PacaConfiguration, AdminError> {
        let result = load()
        switch result {
        case .success: counters.noteApplied()
        case .failure: counters.noteRefused()
        }
        return result
    }

    private func load() -> Result<PacaConfiguration, AdminError> {
        let next: PacaConfiguration
        do {
            next = try ConfigurationLoader.load(path: file)
        } catch {
            return .failure(AdminError(.unprocessableEntity, "\(error); the running configuration is unchanged"))
        }
        let old = state.value
        var restart: [String] = []
        if next.server.host != old.server.host || next.server.port != old.server.port { restart.append("listen") }
        if next.memory != old.memory || next.disk != old.disk || next.redis != old.redis || next.encryption != old.encryption {
            restart.append("storage")
        }
        if next.admin != old.admin { restart.append("admin") }
        if next.accessLogPath != old.accessLogPath { restart.append("access_log") }
        if next.limits != old.limits { restart.append("limits") }
        if next.eventLoops != old.eventLoops || !Self.sameServerLimits(next.server, old.server) { restart.append("server") }
        guard restart.isEmpty else {
            return .failure(
                AdminError(
                    .conflict,
                    "\(restart.joined(separator: ", ")) changed: requires restart; the running configuration is unchanged"))
        }
        engine.reload(routes: RouteTable(next.routes), trustedProxies: next.trustedProxies)
        state.value = next
        return .success(next)
    }

    static func sameServerLimits(_ a: HTTPServer.Configuration, _ b: HTTPServer.Configuration) -> Bool {
        let sizes = a.maxHeaderBytes == b.maxHeaderBytes && a.maxBodyBytes == b.maxBodyBytes
        let times = a.idleTimeout == b.idleTimeout && a.requestHeadTimeout == b.requestHeadTimeout
        let grace = a.shutdownGracePeriod == b.shutdownGracePeriod
        let counts = a.maxPipelinedRequests == b.maxPipelinedRequests && a.backlog == b.backlog && a.maxConnections == b.maxConnections
        return sizes && times && grace && counts
    }
}
