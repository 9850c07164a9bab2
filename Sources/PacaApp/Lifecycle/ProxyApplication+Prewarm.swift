import Foundation
import Logging
import NIOCore
import PacaAccessLog
import PacaAdmin
import PacaCore
import PacaEngine
import PacaStorage
import PacaWarming

/// Warming through the engine's pipeline, on the application's event loops.
struct EngineWarmingFetcher: WarmingFetcher {
    let engine: ProxyEngine
    let group: any EventLoopGroup

    func warm(_ request: WarmRequest, completion: @escaping @Sendable (WarmOutcome) -> Void) {
        engine.warm(request, on: group.next()).whenComplete { result in
            switch result {
            case .success(let outcome): completion(outcome)
            case .failure(let error): completion(.failed(reason: "\(error)", originMillis: nil))
            }
        }
    }
}

extension ProxyApplication {
    /// Where the model is saved: `prewarm.model`, else beside L2's directory, else beside the
    /// access log, else nowhere.
    static func warmingModelPath(_ configuration: PacaConfiguration) -> String? {
        if let path = configuration.prewarm.modelPath { return path }
        if let disk = configuration.disk {
            let directory = disk.path.hasSuffix("/") ? String(disk.path.dropLast()) : disk.path
            return directory + ".warming-model.json"
        }
        if let log = configuration.accessLogPath {
            return (log as NSString).deletingLastPathComponent + "/warming-model.json"
        }
        return nil
    }

    /// The planner's parameters from `prewarm`.
    static func plannerConfiguration(_ prewarm: PacaConfiguration.Prewarm) -> WarmingPlanner.Configuration {
        var planner = WarmingPlanner.Configuration()
        planner.top = prewarm.top
        planner.interval = prewarm.interval.milliseconds
        planner.maxRequestsPerSecond = Double(prewarm.maxRequestsPerSecond)
        planner.maxConcurrency = prewarm.maxConcurrency
        planner.minimumProbability = prewarm.minimumProbability
        planner.followers = prewarm.followers
        planner.followerProbability = prewarm.followerProbability
        return planner
    }

    /// The prewarmer of `prewarm`, its model loaded from its file when there is one (a damaged
    /// or foreign file is reported and replaced by an empty model, never fatal).
    static func makePrewarmer(
        _ configuration: PacaConfiguration, engine: ProxyEngine, memory: MemoryCache, group: any EventLoopGroup, clock: any WallClock,
        sleepClock: any Clock<Duration>, logger: Logger
    ) -> Prewarmer? {
        let prewarm = configuration.prewarm
        guard prewarm.enabled else { return nil }
        let path = warmingModelPath(configuration)
        var model = WarmingModel(popularity: .init(capacity: prewarm.capacity))
        if let path, FileManager.default.fileExists(atPath: path) {
            do {
                model = try WarmingModel.load(from: path)
                logger.info(
                    "warming model loaded", metadata: ["path": "\(path)", "keys": "\(model.popularity.keys.count)"])
            } catch {
                logger.warning("warming model not loaded; starting empty", metadata: ["error": "\(error)"])
            }
        } else if path == nil {
            logger.warning("prewarm: no storage.l2, access_log or prewarm.model: the warming model is not saved across restarts")
        }
        var settings = Prewarmer.Settings(planner: plannerConfiguration(prewarm), modelPath: path)
        settings.saveInterval = .seconds(300)
        let budget = memory.maxBytes
        return Prewarmer(
            settings: settings, model: model, fetcher: EngineWarmingFetcher(engine: engine, group: group), clock: clock,
            sleepClock: sleepClock,
            memoryHasRoom: { memory.statistics().bytes < budget - budget / 20 }, logger: logger)
    }

    /// Feeds the model the logs named by `prewarm` (`paca serve --from`) and the access log's
    /// requests newer than the model, off the event loops; returns how many requests it read.
    static func seed(_ prewarmer: Prewarmer, configuration: PacaConfiguration, routes: RouteTable, logger: Logger) async -> Int {
        var logs = configuration.prewarm.seedLogs
        if let accessLog = configuration.accessLogPath,
            let size = (try? FileManager.default.attributesOfItem(atPath: accessLog))?[.size] as? Int, size > 0
        {
            logs.append(accessLog)
        }
        guard !logs.isEmpty else { return 0 }
        let since = prewarmer.newestObservation()
        return await Task.detached {
            var read = 0
            for log in logs {
                do {
                    read += try LogSeeder.feed(prewarmer, from: log, routes: routes, since: since)
                } catch {
                    logger.warning("prewarm: cannot read \(log): \(error)")
                }
            }
            return read
        }.value
    }
}

extension ProxyApplication {
    /// `GET /prewarm`: the prewarmer's figures and the keys it predicts next.
    static func prewarmStatus(_ prewarmer: Prewarmer?) -> Result<String, AdminError> {
        guard let prewarmer else { return .failure(AdminError(.conflict, "prewarming is off: set prewarm.enabled in routes.json")) }
        var document = Telemetry.prewarmJSON(prewarmer.status())
        document["next"] = prewarmer.predictions(20).map { prediction -> [String: Any] in
            [
                "url": prediction.url ?? prediction.key, "score": (prediction.score * 1000).rounded() / 1000,
                "short": (prediction.shortTermCount * 1000).rounded() / 1000,
                "long": (prediction.longTermCount * 1000).rounded() / 1000, "recency_ms": prediction.recency,
                "seasonality": (prediction.seasonality * 1000).rounded() / 1000, "total": prediction.total,
            ]
        }
        return .success(json(document))
    }

    /// `POST /prewarm`: `{"top": N}` queues the N keys predicted hottest (default `prewarm.top`);
    /// `{"urls": ["/a", "/b"]}` queues those URLs first in line. Both go through the pipeline
    /// within the rate budget.
    static func prewarm(_ body: [String: Any], prewarmer: Prewarmer?, engine: ProxyEngine) -> Result<String, AdminError> {
        guard let prewarmer else { return .failure(AdminError(.conflict, "prewarming is off: set prewarm.enabled in routes.json")) }
        if let unknown = body.keys.first(where: { $0 != "top" && $0 != "urls" }) {
            return .failure(AdminError(.badRequest, "unknown field \"\(unknown)\"; expected top or urls"))
        }
        if let urls = body["urls"] {
            guard let list = urls as? [String], !list.isEmpty, list.count <= 10_000 else {
                return .failure(AdminError(.badRequest, "urls must be a list of 1 to 10000 request targets"))
            }
            var keys: [String] = []
            for url in list {
                guard url.hasPrefix("/"), let key = engine.primaryKey(forURL: url) else {
                    return .failure(AdminError(.badRequest, "\(url): not a path that a caching route takes"))
                }
                keys.append(key)
            }
            prewarmer.warm(urls: list, keys: keys)
            return .success(json(["queued": list.count]))
        }
        var top: Int?
        if let value = body["top"] {
            guard let number = value as? Int, (1...1_000_000).contains(number) else {
                return .failure(AdminError(.badRequest, "top must be a whole number from 1 to 1000000"))
            }
            top = number
        }
        let queued = prewarmer.warmTop(top)
        return .success(json(["queued": queued]))
    }
}
