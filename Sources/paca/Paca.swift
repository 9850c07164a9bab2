import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PacaApp
import PacaCore

@main
struct Paca: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paca",
        abstract: "A caching reverse proxy for slow HTTP APIs.",
        subcommands: [
            Serve.self, DemoOriginCommand.self, CheckConfig.self, PurgeCommand.self, StatsCommand.self, SimulateCommand.self,
            ReplayCommand.self, WarmCommand.self, ReloadCommand.self, HealthCommand.self, L3LatencyCommand.self,
        ])
}

/// Writes one line on standard output at once (unbuffered, so a supervisor or a test reading
/// a pipe sees it as it happens).
func say(_ message: String) {
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}

/// Prints one line on standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("paca: " + message + "\n").utf8))
}

/// Loads a configuration or exits 2 with one clear line.
func loadConfiguration(_ path: String) throws -> PacaConfiguration {
    do {
        return try ConfigurationLoader.load(path: path)
    } catch {
        printError("invalid configuration: \(error)")
        throw ExitCode(2)
    }
}

/// Waits for SIGINT or SIGTERM.
func waitForTerminationSignal() async -> String {
    await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
        let queue = DispatchQueue(label: "paca.signals")
        let resumed = NIOLockedValueBox(false)
        var sources: [any DispatchSourceSignal] = []
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let first = resumed.withLockedValue { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: name) }
            }
            source.resume()
            sources.append(source)
        }
        SignalSources.keep(sources)
    }
}

enum SignalSources {
    nonisolated(unsafe) static var retained: [any DispatchSourceSignal] = []
    static func keep(_ sources: [any DispatchSourceSignal]) { retained = sources }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy.")

    @Option(name: .long, help: "The configuration file.")
    var config = "routes.json"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    @Option(
        name: .long,
        help: "A log (paca JSON, nginx/Apache combined or main; .gz read directly) to teach the prewarmer at start-up; repeatable.")
    var from: [String] = []

    func run() async throws {
        bootstrapLogging(logLevel)
        var configuration = try loadConfiguration(config)
        if !from.isEmpty {
            guard configuration.prewarm.enabled else {
                printError("--from teaches the prewarmer: set \"prewarm\": {\"enabled\": true} in \(config)")
                throw ExitCode(2)
            }
            for log in from where !FileManager.default.isReadableFile(atPath: log) {
                printError("--from: cannot read \(log)")
                throw ExitCode(2)
            }
            configuration.prewarm.seedLogs = from
        }
        let descriptors = DescriptorLimit.raiseToHard()
        if descriptors.after < configuration.server.maxConnections + 256 {
            printError(
                "warning: this process may open \(descriptors.after) descriptors (ulimit -n), fewer than server.max_connections "
                    + "(\(configuration.server.maxConnections)) needs; raise the limit (LimitNOFILE= under systemd)")
        }
        let application: ProxyApplication
        do {
            application = try ProxyApplication(configuration: configuration)
        } catch {
            printError("cannot start: \(error)")
            throw ExitCode(1)
        }
        let address: SocketAddress
        do {
            address = try await application.start()
        } catch {
            printError("cannot listen on \(configuration.server.host):\(configuration.server.port): \(error)")
            await application.shutdown()
            throw ExitCode(1)
        }
        // SIGHUP reloads the configuration file (as POST /reload does).
        signal(SIGHUP, SIG_IGN)
        let hangUp = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "paca.reload"))
        hangUp.setEventHandler {
            switch application.reload() {
            case .success: say("paca: SIGHUP: configuration reloaded from \(configuration.file)")
            case .failure(let error): printError("SIGHUP: reload refused: \(error.message)")
            }
        }
        hangUp.resume()
        // SIGUSR1 reopens the access log (as nginx does): `logrotate` moves the file away, then
        // signals, and paca writes a new file in its place.
        signal(SIGUSR1, SIG_IGN)
        let userOne = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue(label: "paca.reopen"))
        userOne.setEventHandler {
            do {
                try application.reopenAccessLog()
                say("paca: SIGUSR1: access log reopened")
            } catch {
                printError("SIGUSR1: cannot reopen the access log: \(error); still writing to the old file")
            }
        }
        userOne.resume()
        // Said once the signals above are handled: a test (or a supervisor) may send one at once.
        say(
            "paca: serving on http://\(address.ipAddress ?? configuration.server.host):\(address.port ?? 0) with \(configuration.routes.count) route(s); Ctrl-C stops"
        )
        let signalName = await waitForTerminationSignal()
        hangUp.cancel()
        userOne.cancel()
        say("paca: \(signalName): finishing requests in flight")
        await application.shutdown()
        say("paca: stopped")
    }
}

struct DemoOriginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-origin", abstract: "Serve fixture responses with artificial latency.")

    @Option(name: .long, help: "The fixtures directory (holding origin/).")
    var fixtures = "fixtures"

    @Option(name: .long, help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on.")
    var port = 9000

    @Option(name: .long, help: "Delay before each answer, such as 50ms or 0.")
    var latency = "50ms"

    @Option(name: .long, help: "Log level.")
    var logLevel = "info"

    func run() async throws {
        bootstrapLogging(logLevel)
        guard let delay = latency == "0" ? .zero : HumanUnits.parseDuration(latency) else {
            printError("--latency: expected a duration such as 50ms, got \"\(latency)\"")
            throw ExitCode(2)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let origin: DemoOrigin
        do {
            origin = try DemoOrigin(configuration: .init(fixtures: fixtures, host: host, port: port, latency: delay), group: group)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        do {
            let address = try await origin.start()
            print(
                "paca demo-origin: \(origin.documentCount) documents on http://\(address.ipAddress ?? host):\(address.port ?? port), latency \(latency)"
            )
        } catch {
            printError("cannot listen on \(host):\(port): \(error)")
            throw ExitCode(1)
        }
        _ = await waitForTerminationSignal()
        await origin.shutdown()
        try? await group.shutdownGracefully()
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration and print each route's rules.")

    @Argument(help: "The configuration file.")
    var file = "routes.json"

    func run() async throws {
        let configuration = try loadConfiguration(file)
        for line in ConfigurationSummary.lines(configuration) { print(line) }
    }
}

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show the proxy's statistics from its admin API.")

    @Option(name: .long, help: "The admin API's base URL.")
    var admin = "http://127.0.0.1:9090"

    @Option(name: .long, help: "The environment variable that holds the admin token (sent when set).")
    var tokenEnv = "PACA_ADMIN_TOKEN"

    @Flag(name: .long, help: "Print the raw /stats JSON instead of tables.")
    var json = false

    func run() async throws {
        let token = ProcessInfo.processInfo.environment[tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        let response: AdminClient.Response
        do {
            response = try await AdminClient.request(
                base: admin, path: "/stats", token: token, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        guard response.status == 200 else {
            let hint = response.status == 401 ? " (set \(tokenEnv) to the admin token)" : ""
            printError("/stats answered \(response.status): \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))\(hint)")
            throw ExitCode(1)
        }
        if json {
            print(response.body)
            return
        }
        do {
            print(try StatsTable.render(response.body))
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

func bootstrapLogging(_ level: String) {
    let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}
