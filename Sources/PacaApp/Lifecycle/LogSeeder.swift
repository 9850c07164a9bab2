import PacaAccessLog
import PacaCore
import PacaEngine
import PacaReplay
import PacaWarming

/// Feeds a log (paca's JSON, nginx/Apache `combined` or `main`, plain or .gz) into the prewarmer's
/// model, keyed by the routes as the proxy keys requests.
enum LogSeeder {
    /// Reads `path` and observes each timed cacheable request newer than `since`; returns how
    /// many it observed.
    static func feed(_ prewarmer: Prewarmer, from path: String, routes: RouteTable, since: UnixMillis?) throws -> Int {
        let reader = try LogReader(path: path)
        let keying = SimulationKeying(routes: routes)
        var observed = 0
        var batch: [WarmingPlanner.Observation] = []
        batch.reserveCapacity(1024)
        _ = try reader.forEach { request in
            guard let time = request.timestamp, time > since ?? .min, request.key == nil,
                case .cacheable(let key, _) = keying.decide(request)
            else { return }
            let served: WarmingPlanner.Observation.Served
            switch request.cache {
            case "hit", "stale": served = .hit
            case "revalidated": served = .revalidated
            default: served = .miss
            }
            var observation = WarmingPlanner.Observation(key: key, url: request.url, time: time, served: served, ttlSeconds: nil)
            observation.live = false
            batch.append(observation)
            observed += 1
            if batch.count == 1024 {
                prewarmer.observe(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        prewarmer.observe(batch)
        return observed
    }
}
