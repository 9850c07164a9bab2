import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport
import Synchronization

/// A `paca serve` child process (the built executable) in its own directory, for tests of what
/// only a real process shows: signals, exit status, files left behind. Listed in `LiveChildren`
/// until it has exited.
final class LiveServe: Sendable {
    /// How the process ended.
    struct Exit: Sendable, Equatable {
        var status: Int32
        var bySignal: Bool
    }

    private struct Ending {
        var exit: Exit?
        var waiters: [CheckedContinuation<Exit, Never>] = []
    }

    let process: Process
    let port: Int
    let directory: String
    private let ending: Mutex<Ending>

    /// Starts `paca serve --config routes.json` in `directory` (a new temporary one by default),
    /// `PORT` in `config` standing for a free loopback port, and returns once it says it serves.
    /// A port taken between the pick and paca's bind makes paca exit: another is tried (three at
    /// most).
    static func start(config: String, directory reuse: String? = nil) async throws -> LiveServe {
        let directory = reuse ?? NSTemporaryDirectory() + "paca-live-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastError: any Error = NotServing(attempts: [])
        var attempts: [String] = []
        for _ in 0..<3 {
            do {
                return try await startOnce(config: config, directory: directory)
            } catch let error as NotServing {
                attempts += error.attempts
                lastError = NotServing(attempts: attempts)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private static func startOnce(config: String, directory: String) async throws -> LiveServe {
        let port = try await freePort()
        try config.replacingOccurrences(of: "PORT", with: String(port)).write(
            toFile: directory + "/routes.json", atomically: true, encoding: .utf8)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("paca")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--config", "routes.json", "--log-level", "warning"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        process.standardOutput = out
        // paca's own words on why it stopped, for the error below.
        let errorPath = directory + "/paca-stderr.log"
        FileManager.default.createFile(atPath: errorPath, contents: nil)
        let errorFile = FileHandle(forWritingAtPath: errorPath)
        process.standardError = errorFile ?? FileHandle.nullDevice
        defer { try? errorFile?.close() }
        let serve = LiveServe(process: process, port: port, directory: directory)
        process.terminationHandler = { [serve] process in
            serve.ended(Exit(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal))
        }
        // Ready when it says so ("paca: serving on …"; stdout is line-buffered), or gone.
        let ready: Bool = try await withCheckedThrowingContinuation { continuation in
            let state = Mutex<(text: String, done: Bool)>(("", false))
            out.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                let verdict = state.withLock { state -> Bool? in
                    guard !state.done else { return nil }
                    state.text += String(decoding: data, as: UTF8.self)
                    guard data.isEmpty || state.text.contains("serving on") else { return nil }
                    state.done = true
                    return !data.isEmpty
                }
                if let verdict {
                    // Keep draining stdout so paca never blocks on a full pipe.
                    if verdict { handle.readabilityHandler = { _ = $0.availableData } } else { handle.readabilityHandler = nil }
                    continuation.resume(returning: verdict)
                }
            }
            do {
                try process.run()
            } catch {
                out.fileHandleForReading.readabilityHandler = nil
                continuation.resume(throwing: error)
            }
        }
        LiveChildren.add(process.processIdentifier)
        guard ready else {
            let exit = await serve.stop()
            let said = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw NotServing(attempts: ["port \(port), exit \(exit.status)\(exit.bySignal ? " (signal)" : ""): \(said.suffix(2000))"])
        }
        return serve
    }

    /// paca exited before it said it serves; what it wrote to stderr on each attempt.
    struct NotServing: Error, CustomStringConvertible {
        var attempts: [String]
        var description: String { "paca serve did not start: " + attempts.joined(separator: "; ") }
    }

    /// A port nothing listens on now (bound to 0 and released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    private init(process: Process, port: Int, directory: String) {
        self.process = process
        self.port = port
        self.directory = directory
        self.ending = Mutex(Ending())
    }

    private func ended(_ exit: Exit) {
        LiveChildren.remove(process.processIdentifier)
        let waiters = ending.withLock { ending -> [CheckedContinuation<Exit, Never>] in
            ending.exit = exit
            defer { ending.waiters = [] }
            return ending.waiters
        }
        for waiter in waiters { waiter.resume(returning: exit) }
    }

    /// Sends SIGTERM and returns at once.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Returns how the process ended, once it has.
    func exited() async -> Exit {
        await withCheckedContinuation { (continuation: CheckedContinuation<Exit, Never>) in
            let exit = ending.withLock { ending -> Exit? in
                if ending.exit == nil { ending.waiters.append(continuation) }
                return ending.exit
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    func stop() async -> Exit {
        terminate()
        return await exited()
    }
}
