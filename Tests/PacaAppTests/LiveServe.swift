import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A `paca serve` child process (the built executable) in its own directory, for tests of what
/// only a real process shows: signals, exit status, files left behind.
final class LiveServe: Sendable {
    /// How the process ended.
    typealias Exit = ChildProcess.Exit

    let child: ChildProcess
    let port: Int
    let directory: String

    /// paca exited before it said it serves; what it wrote to stderr on each attempt.
    struct NotServing: Error, CustomStringConvertible {
        var attempts: [String]
        var description: String { "paca serve did not start: " + attempts.joined(separator: "; ") }
    }

    /// Starts `paca serve --config routes.json` in `directory` (a new temporary one by default),
    /// `PORT` in `config` standing for a free loopback port, and returns once it says it serves.
    /// A port taken between the pick and paca's bind makes paca exit: another is tried (three at
    /// most).
    static func start(config: String, directory reuse: String? = nil) async throws -> LiveServe {
        let directory = reuse ?? NSTemporaryDirectory() + "paca-live-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var attempts: [String] = []
        for _ in 0..<3 {
            do {
                return try await startOnce(config: config, directory: directory)
            } catch let error as NotServing {
                attempts += error.attempts
            }
        }
        throw NotServing(attempts: attempts)
    }

    private static func startOnce(config: String, directory: String) async throws -> LiveServe {
        let port = try await freePort()
        try config.replacingOccurrences(of: "PORT", with: String(port)).write(
            toFile: directory + "/routes.json", atomically: true, encoding: .utf8)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("paca").path
        // paca's own words on why it stopped, for the error below.
        let errorPath = directory + "/paca-stderr.log"
        let errorFile = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard errorFile >= 0 else { throw ChildProcess.SpawnError(description: "cannot open \(errorPath): errno \(errno)") }
        defer { close(errorFile) }
        let out = try ChildProcess.pipe()
        let child: ChildProcess
        do {
            defer { close(out.write) }
            child = try ChildProcess(
                spawning: executable, arguments: ["paca", "serve", "--config", "routes.json", "--log-level", "warning"],
                directory: directory, standardOutput: out.write, standardError: errorFile)
        } catch {
            close(out.read)
            throw error
        }
        let serve = LiveServe(child: child, port: port, directory: directory)
        guard await Self.waitForServing(out.read) else {
            let exit = await serve.stop()
            let said = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw NotServing(attempts: ["port \(port), exit \(exit.status)\(exit.bySignal ? " (signal)" : ""): \(said.suffix(2000))"])
        }
        return serve
    }

    /// Reads paca's stdout on a helper thread (`read` blocks) until it says it serves ("paca:
    /// serving on …"; stdout is line-buffered): `true`, or `false` when it ends first. Reading
    /// goes on to the end, so paca never blocks on a full pipe.
    private static func waitForServing(_ descriptor: Int32) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Thread.detachNewThread {
                var text = ""
                var answered = false
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    guard !answered else { continue }
                    text += String(decoding: buffer[0..<count], as: UTF8.self)
                    if text.contains("serving on") {
                        answered = true
                        continuation.resume(returning: true)
                    }
                }
                close(descriptor)
                if !answered { continuation.resume(returning: false) }
            }
        }
    }

    /// A port nothing listens on now (bound to 0 and released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    private init(child: ChildProcess, port: Int, directory: String) {
        self.child = child
        self.port = port
        self.directory = directory
    }

    /// Sends SIGTERM and returns at once.
    func terminate() {
        child.signal(SIGTERM)
    }

    /// Returns how the process ended, once it has.
    func exited() async -> Exit {
        await child.waitForExit()
    }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    func stop() async -> Exit {
        terminate()
        return await exited()
    }
}
