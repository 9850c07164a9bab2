import ArgumentParser
import Foundation
import NIOPosix
import PacaApp

/// `paca reload`: a thin client of `POST /reload` on the admin API.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the configuration file through the admin API.",
        discussion: """
            The node re-reads its configuration file; a file that does not load, or that changes
            listen, storage, admin, access_log, limits or server, is refused and the running
            configuration stays. With --all, every node sharing the same L3 Redis (and namespace)
            re-reads its OWN file within about a second (each node judges its own file; see
            /stats "reloads" on each node).
            """)

    @Flag(help: "Also make every node sharing L3 reload its own configuration file.")
    var all = false

    @Option(help: "The admin API.")
    var admin = "http://127.0.0.1:9090"

    @Option(name: .customLong("token-env"), help: "Environment variable holding the admin token.")
    var tokenEnv = "PACA_ADMIN_TOKEN"

    func run() async throws {
        let token = ProcessInfo.processInfo.environment[tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        let response: AdminClient.Response
        do {
            response = try await AdminClient.request(
                "POST", base: admin, path: "/reload", token: token, body: all ? #"{"all":true}"# : "{}",
                group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        let body = response.body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard response.status == 200 else {
            printError("reload refused (\(response.status)): \(body)")
            throw ExitCode(1)
        }
        print(body)
    }
}
