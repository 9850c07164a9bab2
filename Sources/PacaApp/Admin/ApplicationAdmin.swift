import Foundation
import PacaAdmin
import PacaEngine
import Synchronization

/// The running application as the admin API sees it.
final class ApplicationAdmin: AdminBackend {
    private let telemetry: Telemetry
    private let draining: Atomic<Bool>
    private let purgeHandler: @Sendable ([String: Any]) async -> Result<String, AdminError>
    private let reloadHandler: @Sendable ([String: Any]) async -> Result<String, AdminError>
    private let routesHandler: @Sendable () -> String
    private let prewarmStatusHandler: @Sendable () -> Result<String, AdminError>
    private let prewarmHandler: @Sendable ([String: Any]) -> Result<String, AdminError>

    init(
        telemetry: Telemetry,
        purge: @escaping @Sendable ([String: Any]) async -> Result<String, AdminError>,
        reload: @escaping @Sendable ([String: Any]) async -> Result<String, AdminError>,
        routes: @escaping @Sendable () -> String,
        prewarmStatus: @escaping @Sendable () -> Result<String, AdminError>,
        prewarm: @escaping @Sendable ([String: Any]) -> Result<String, AdminError>
    ) {
        self.prewarmStatusHandler = prewarmStatus
        self.prewarmHandler = prewarm
        self.telemetry = telemetry
        self.draining = Atomic(false)
        self.purgeHandler = purge
        self.reloadHandler = reload
        self.routesHandler = routes
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func startDraining() {
        draining.store(true, ordering: .relaxed)
    }

    func statsJSON() async -> String { await telemetry.statsJSON() }
    func metricsText() async -> String { await telemetry.metricsText() }
    func routesJSON() -> String { routesHandler() }
    func purge(_ body: [String: Any]) async -> Result<String, AdminError> { await purgeHandler(body) }
    func reload(_ body: [String: Any]) async -> Result<String, AdminError> { await reloadHandler(body) }
    func prewarmStatus() async -> Result<String, AdminError> { prewarmStatusHandler() }
    func prewarm(_ body: [String: Any]) async -> Result<String, AdminError> { prewarmHandler(body) }
}
