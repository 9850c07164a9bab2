import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport
import Synchronization

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
        // A new directory is removed when the test process exits (a test may start paca again in it).
        let directory = try reuse ?? LiveChildren.makeDirectory("paca-live-")
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
        let output = ProcessOutput()
        Self.read(out.read, into: output)
        let serve = LiveServe(child: child, port: port, directory: directory, output: output)
        guard await output.wait(for: "serving on") else {
            let exit = await serve.stop()
            let said = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw NotServing(attempts: ["port \(port), exit \(exit.status)\(exit.bySignal ? " (signal)" : ""): \(said.suffix(2000))"])
        }
        return serve
    }

    /// Reads paca's stdout on a helper thread (`read` blocks) to its end, into `output`; paca
    /// never blocks on a full pipe.
    private static func read(_ descriptor: Int32, into output: ProcessOutput) {
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = Glibc.read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                output.append(String(decoding: buffer[0..<count], as: UTF8.self))
            }
            close(descriptor)
            output.end()
        }
    }

    /// A port nothing listens on now (bound to 0 and released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    private init(child: ChildProcess, port: Int, directory: String, output: ProcessOutput) {
        self.child = child
        self.port = port
        self.directory = directory
        self.output = output
    }

    /// What paca wrote to stdout so far (stdout is line-buffered).
    let output: ProcessOutput

    /// Sends `signal` and returns at once.
    func signal(_ signal: Int32) {
        child.signal(signal)
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

/// A child's standard output as it arrives, and waits for a piece of text in it.
final class ProcessOutput: Sendable {
    private struct State {
        var text = ""
        var ended = false
        var waiters: [(text: String, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    private let state = Mutex(State())

    func append(_ chunk: String) {
        let ready = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.text += chunk
            let text = state.text
            let ready = state.waiters.filter { text.contains($0.text) }.map(\.continuation)
            state.waiters.removeAll { text.contains($0.text) }
            return ready
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    func end() {
        let waiting = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.ended = true
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for continuation in waiting { continuation.resume(returning: false) }
    }

    /// True once `text` has appeared; false if the output ends without it.
    func wait(for text: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let answer = state.withLock { state -> Bool? in
                if state.text.contains(text) { return true }
                if state.ended { return false }
                state.waiters.append((text, continuation))
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }
}
