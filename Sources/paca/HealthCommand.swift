import ArgumentParser
import NIOCore
import NIOPosix
import PacaApp

/// `paca health`: `GET /healthz` on the admin API, exit status 0 when it answers 200; the
/// container image's health check, so the runtime image needs no curl.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when the proxy's /healthz answers 200 (1 while it drains or is down).")

    @Option(help: "The admin API.")
    var admin = "http://127.0.0.1:9090"

    @Option(help: "Give up after this many seconds.")
    var timeout = 2

    func run() async throws {
        guard (1...60).contains(timeout) else {
            printError("--timeout: expected 1 to 60 seconds, got \(timeout)")
            throw ExitCode(64)
        }
        let response: AdminClient.Response
        do {
            response = try await AdminClient.request(
                base: admin, path: "/healthz", token: nil, timeout: .seconds(Int64(timeout)),
                group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        guard response.status == 200 else {
            printError("/healthz answered \(response.status): \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))")
            throw ExitCode(1)
        }
        print("ok")
    }
}
