import Logging
import PacaRedis

extension ProxyApplication {
    /// One `PING` at start-up, so a wrong password or an unreachable server shows in the first
    /// lines of the log rather than after the circuit breaker has counted its failures. Never
    /// fails the start: L3 is optional and the proxy serves from L1, L2 and the origin meanwhile
    /// (the breaker keeps probing, and logs when L3 comes back).
    ///
    /// Returns the problem found, `nil` when Redis answered.
    @discardableResult
    static func probe(_ redis: RedisTier, logger: Logger) async -> RedisError? {
        let url = redis.configuration.url
        do {
            try await redis.ping()
            logger.info("L3 Redis reachable", metadata: ["redis": "\(url)"])
            return nil
        } catch {
            logger.warning(
                "L3 Redis unusable at start-up: \(advice(for: error, url: url, variable: redis.configuration.passwordEnvironmentVariable)); serving from L1, L2 and the origin without it until it answers",
                metadata: ["redis": "\(url)", "error": "\(error)"])
            return error
        }
    }

    /// What to check, for each way the probe fails.
    static func advice(for error: RedisError, url: RedisURL, variable: String?) -> String {
        let passwordSource = variable.map { "the password in $\($0)" } ?? "the password in storage.l3.url"
        switch error {
        case .authenticationFailed(let reply) where url.password == nil:
            return "Redis wants a password (\(reply)) and none is configured: add one to storage.l3.url or set storage.l3.password_env"
        case .authenticationFailed(let reply):
            return "wrong password (\(reply)): check \(passwordSource)"
        case .connectFailed(let reason):
            return "cannot connect to \(url.host):\(url.port) (\(reason)): is redis-server running there?"
        case .timeout:
            return "no answer within storage.l3.timeout: is \(url.host):\(url.port) a Redis server, and is the timeout long enough?"
        case .selectFailed(let reply):
            return "database \(url.database) refused (\(reply)): check the /db part of storage.l3.url"
        default:
            return "\(error)"
        }
    }
}
