import Foundation
import NIOCore
import NIOPosix
import PacaTestSupport
import Synchronization
import Testing

/// `paca serve` as a user runs it (the built executable, a catch-all route with the defaults and
/// `cache-control-first`), driven through a range of caching cases, each request carrying its
/// own `X-Request-Id`. The origin records the ids it receives: every request that must reach the
/// origin does so exactly once (no retry, nothing dropped or duplicated), and none of the others
/// does.
@Suite("paca serve: every request id reaches the origin at most once", .timeLimit(.minutes(1)))
struct RequestIdConformanceTests {
    /// A running `paca serve`, stopped with SIGTERM.
    final class ServeProcess: Sendable {
        let process: Process
        let port: Int

        /// Starts `paca serve` on a free loopback port (`PORT` in `config` stands for it) and
        /// returns once it says it serves. The port is free when picked but another test may bind
        /// it before paca does: then paca exits, and another port is tried (three at most).
        static func start(config: String) async throws -> ServeProcess {
            var lastError: any Error = CocoaError(.executableLoad)
            for _ in 0..<3 {
                do {
                    return try await startOnce(config: config)
                } catch {
                    lastError = error
                }
            }
            throw lastError
        }

        private static func startOnce(config: String) async throws -> ServeProcess {
            let directory = NSTemporaryDirectory() + "paca-serve-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
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
            process.standardError = FileHandle.nullDevice
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
                        handle.readabilityHandler = nil
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
            let serve = ServeProcess(process: process, port: port)
            guard ready else {
                await serve.stop()
                throw CocoaError(.executableLoad)
            }
            return serve
        }

        /// A port nothing listens on now (bound to 0 and released).
        static func freePort() async throws -> Int {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = channel.localAddress!.port!
            try await channel.close()
            return port
        }

        private init(process: Process, port: Int) {
            self.process = process
            self.port = port
        }

        func stop() async {
            defer { LiveChildren.remove(process.processIdentifier) }
            guard process.isRunning else { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                process.terminationHandler = { _ in continuation.resume() }
                process.terminate()
            }
        }
    }

    /// One request and whether it must reach the origin.
    struct Case: Sendable {
        var note: String
        var method = "GET"
        var path: String
        var headers: [(String, String)] = []
        var body: String?
        var reachesOrigin: Bool
    }

    static let cases: [Case] = [
        Case(note: "RFC 9111 §3: a miss is fetched", path: "/fresh", reachesOrigin: true),
        Case(note: "RFC 9111 §4.2: a fresh hit is not", path: "/fresh", reachesOrigin: false),
        Case(
            note: "RFC 9111 §5.2.1.4: a client's no-cache revalidates", path: "/fresh", headers: [("Cache-Control", "no-cache")],
            reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.5: no-store is fetched", path: "/no-store", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.5: ...and fetched again", path: "/no-store", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.7: private is not stored by a shared cache", path: "/private", reachesOrigin: true),
        Case(note: "RFC 9111 §5.2.2.7: ...so it is fetched again", path: "/private", reachesOrigin: true),
        Case(note: "RFC 9111 §4.3: max-age=0 with an ETag is stored", path: "/validated", reachesOrigin: true),
        Case(note: "RFC 9111 §4.3.1: the stale entry is revalidated, once", path: "/validated", reachesOrigin: true),
        Case(
            note: "RFC 9110 §9.3.3: POST passes through once, never retried", method: "POST", path: "/form", body: "a=1",
            reachesOrigin: true),
        Case(note: "RFC 9111 §4.4: ...and invalidates the URI", path: "/form", reachesOrigin: true),
        Case(note: "RFC 9110 §15.6.4: a 503 is passed on, not retried", path: "/unavailable", reachesOrigin: true),
        Case(note: "RFC 9110 §15.6.4: ...and not stored", path: "/unavailable", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.4: PUT passes through once", method: "PUT", path: "/fresh", body: "x", reachesOrigin: true),
        Case(note: "RFC 9111 §4.4: ...and the PUT invalidated /fresh", path: "/fresh", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.5: DELETE passes through once", method: "DELETE", path: "/thing", reachesOrigin: true),
        Case(note: "RFC 9110 §9.3.7: OPTIONS passes through once", method: "OPTIONS", path: "/thing", reachesOrigin: true),
        Case(note: "RFC 9111 §4.1: a Vary variant is fetched", path: "/vary", headers: [("Accept-Language", "fr")], reachesOrigin: true),
        Case(note: "RFC 9111 §4.1: the same variant hits", path: "/vary", headers: [("Accept-Language", "fr")], reachesOrigin: false),
        Case(note: "RFC 9111 §4.1: another variant is fetched", path: "/vary", headers: [("Accept-Language", "de")], reachesOrigin: true),
        Case(
            note: "RFC 9110 §9.3.2: HEAD of a stored GET is a hit", method: "HEAD", path: "/vary", headers: [("Accept-Language", "de")],
            reachesOrigin: false),
        Case(
            note: "RFC 9111 §5.2.1.7: only-if-cached never reaches the origin", path: "/never",
            headers: [("Cache-Control", "only-if-cached")], reachesOrigin: false),
    ]

    @Test("each case's request id reaches the origin exactly once when it must, never otherwise")
    func requestIds() async throws {
        let origin = try await TestOrigin { seen in
            switch seen.uri {
            case "/fresh", "/form", "/thing": return .init(headers: [("Cache-Control", "max-age=600")], body: "fresh")
            case "/no-store": return .init(headers: [("Cache-Control", "no-store")], body: "no")
            case "/private": return .init(headers: [("Cache-Control", "private, max-age=600")], body: "mine")
            case "/validated":
                if seen.header("if-none-match") == "\"v1\"" {
                    return .init(status: 304, headers: [("ETag", "\"v1\""), ("Cache-Control", "max-age=0")])
                }
                return .init(headers: [("Cache-Control", "max-age=0"), ("ETag", "\"v1\"")], body: "validated")
            case "/unavailable": return .init(status: 503, body: "down")
            case "/vary": return .init(headers: [("Cache-Control", "max-age=600"), ("Vary", "Accept-Language")], body: "varies")
            default: return .init(status: 404)
            }
        }
        defer { Task { await origin.shutdown() } }
        let config = """
            { "listen": "127.0.0.1:PORT",
              "routes": [ { "name": "all", "match": "/*", "origin": "\(origin.url)", "ttl_source": "cache-control-first" } ] }
            """
        let serve = try await ServeProcess.start(config: config)
        defer { Task { await serve.stop() } }
        let group = MultiThreadedEventLoopGroup.singleton
        var expected: [String] = []
        for (index, test) in Self.cases.enumerated() {
            let id = "req-\(index)"
            let response = try await fetch(
                port: serve.port, group: group, method: test.method, path: test.path, headers: test.headers + [("X-Request-Id", id)],
                body: test.body)
            #expect(response.status != 0, "\(test.note)")
            if test.reachesOrigin { expected.append(id) }
            let seen = origin.requests.compactMap { $0.header("x-request-id") }
            #expect(seen == expected, "after \(id) (\(test.note)): the origin saw \(seen)")
        }
        await serve.stop()
        let ids = origin.requests.compactMap { $0.header("x-request-id") }
        #expect(ids.count == Set(ids).count, "an id reached the origin twice: \(ids)")
        #expect(origin.requests.count == ids.count, "a request reached the origin without its id")
    }
}
