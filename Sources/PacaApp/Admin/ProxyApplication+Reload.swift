import PacaAdmin

extension ProxyApplication {
    /// `POST /reload`: `{}` re-reads this node's configuration file; `{"all": true}` also tells
    /// every node sharing L3 to re-read its own (`ReloadSync`).
    static func reload(_ body: [String: Any], reloader: Reloader, broadcast: ReloadSync?) async -> Result<String, AdminError> {
        if let unknown = body.keys.first(where: { $0 != "all" }) {
            return .failure(AdminError(.badRequest, "unknown field \"\(unknown)\"; expected all"))
        }
        let all: Bool
        switch body["all"] {
        case nil: all = false
        case let value as Bool: all = value
        default: return .failure(AdminError(.badRequest, "all must be true or false"))
        }
        guard all else { return reloader.reload() }
        guard let broadcast else {
            return .failure(
                AdminError(.badRequest, "\"all\" needs storage.l3: nodes share reloads through Redis, and this node has none"))
        }
        return await broadcast.reloadEverywhere()
    }
}
