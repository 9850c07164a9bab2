import Logging
import PacaCore

/// The single server's circuit breaker: asked before an operation, told its outcome after.
extension RedisTier {
    /// Asks the breaker whether to go to Redis; nil (counted as an error) when it says skip.
    func admit() -> CircuitBreaker.Permission? {
        let permission = state.withLock { state in
            let permission = state.breaker.permission(now: clock.now())
            if permission == .skip { state.errors += 1 }
            return permission
        }
        switch permission {
        case .skip: return nil
        case .probe: logger.info("L3 Redis circuit breaker half-open: probing", metadata: ["redis": "\(configuration.url)"])
        case .proceed: break
        }
        return permission
    }

    /// Feeds the outcome of an admitted operation back into the breaker and logs a transition.
    func settle(_ permission: CircuitBreaker.Permission, failure: RedisError?) {
        guard let failure else {
            let transition = state.withLock { $0.breaker.recordSuccess(now: clock.now()) }
            log(transition, error: nil)
            return
        }
        let transition: CircuitBreaker.Transition? = state.withLock { state in
            state.errors += 1
            if Self.tripsBreaker(failure) { return state.breaker.recordFailure(now: clock.now()) }
            // No verdict on Redis: a probe that ends so must free the half-open state, or
            // every later operation would be skipped.
            if permission == .probe { state.breaker.probeAbandoned(now: clock.now()) }
            return nil
        }
        log(transition, error: failure)
    }

    private func log(_ transition: CircuitBreaker.Transition?, error: RedisError?) {
        guard let transition else { return }
        var metadata: Logger.Metadata = ["redis": "\(configuration.url)"]
        if let error { metadata["error"] = "\(error)" }
        switch transition {
        case .opened(let until, let failures):
            metadata["failures"] = "\(failures)"
            metadata["retry_at"] = "\(RFC3339.format(millis: until))"
            logger.warning("L3 Redis circuit breaker open: skipping L3", metadata: metadata)
        case .reopened(let until):
            metadata["retry_at"] = "\(RFC3339.format(millis: until))"
            logger.warning("L3 Redis probe failed: circuit breaker open again", metadata: metadata)
        case .closed:
            logger.info("L3 Redis circuit breaker closed: L3 back in use", metadata: metadata)
        }
    }

    /// Timeouts and broken or refused connections say the server is unusable; `overloaded`,
    /// `shutDown` and a skipped operation say nothing about it.
    static func tripsBreaker(_ error: RedisError) -> Bool {
        switch error {
        case .connectFailed, .authenticationFailed, .selectFailed, .timeout, .io, .protocolError: true
        case .shutDown, .overloaded, .breakerOpen: false
        }
    }
}
