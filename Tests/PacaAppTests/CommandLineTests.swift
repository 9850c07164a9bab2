import Foundation
import Testing

/// Runs the built `paca` executable (it sits beside the test bundle) with a bounded wait.
/// `environment` adds variables to the child's environment (never to this process's: `setenv`
/// races with `Process.run` reading the environment on another thread).
func runPaca(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> (
    status: Int32, output: String, error: String
) {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("paca")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: executable.path])
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    // Await the exit instead of blocking a thread of the shared pool (outputs are a few lines,
    // far below a pipe's buffer, so reading after the exit cannot deadlock).
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    return (status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

@Suite("The paca command line")
struct CommandLineTests {
    static func scratch(_ config: String) throws -> String {
        let directory = NSTemporaryDirectory() + "paca-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try config.write(toFile: directory + "/routes.json", atomically: true, encoding: .utf8)
        return directory
    }

    @Test(
        "a broken config exits 2 with one line naming the file and the JSON path",
        arguments: [
            (#"{ "routes": [ { "match": "/*", "origin": "http://127.0.0.1:9000", "ttl": "sixty" } ] }"#, "$.routes[0].ttl"),
            (#"{ "routes": [ { "match": "/*", "origin": "ftp://x" } ] }"#, "$.routes[0].origin"),
            (#"{ "routes": [ { "match": "/*", "origin": "http://a", "tll": "1s" } ] }"#, "$.routes[0].tll"),
            (#"{ "listen": "nowhere", "routes": [ { "match": "/*", "origin": "http://a" } ] }"#, "$.listen"),
            (#"{ "routes": "#, "$"),
            (
                #"{ "storage": { "l1": { "policy": "random" } }, "routes": [ { "match": "/*", "origin": "http://a" } ] }"#,
                "$.storage.l1.policy"
            ),
        ])
    func brokenConfig(config: String, path: String) async throws {
        let directory = try Self.scratch(config)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for command in [["serve", "--config", "routes.json"], ["check-config", "routes.json"]] {
            let result = try await runPaca(command, in: directory)
            #expect(result.status == 2)
            #expect(result.error.contains("routes.json: \(path):"), "stderr was: \(result.error)")
            #expect(result.error.split(separator: "\n").count == 1)
        }
    }

    @Test("check-config prints each route's rules for a valid config")
    func validConfig() async throws {
        let directory = try Self.scratch(
            #"{ "routes": [ { "name": "api", "match": "/api/*", "origin": "http://127.0.0.1:9000", "ttl": "60s" }, { "match": "/api/x", "origin": "http://a" } ] }"#
        )
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runPaca(["check-config", "routes.json"], in: directory)
        #expect(result.status == 0)
        #expect(result.output.contains("api: /api/* -> http://127.0.0.1:9000"))
        #expect(result.output.contains("ttl=60s"))
        #expect(result.output.contains("hidden by the earlier route \"api\""))
        #expect(result.output.contains("L2 disk: off"))
        #expect(result.output.contains("max_ttl=none stale_while_revalidate=none stale_if_error=none"))
        #expect(result.output.contains("key: query=all headers=none"))
    }
}
