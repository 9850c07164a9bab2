import Foundation
import PacaTestSupport
import Testing

/// Runs the built `paca` executable (it sits beside the test bundle) and returns its exit
/// status (or the signal that ended it) and what it wrote. `environment` adds variables to the
/// child's environment (never to this process's: `setenv` would race with other threads reading
/// the environment).
func runPaca(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> (
    status: Int32, output: String, error: String
) {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("paca").path
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: executable])
    }
    let out = try ChildProcess.pipe()
    let err: (read: Int32, write: Int32)
    do {
        err = try ChildProcess.pipe()
    } catch {
        close(out.read)
        close(out.write)
        throw error
    }
    let child: ChildProcess
    do {
        defer {
            close(out.write)
            close(err.write)
        }
        child = try ChildProcess(
            spawning: executable, arguments: ["paca"] + arguments, directory: directory,
            extraEnvironment: environment.map { "\($0.key)=\($0.value)" }, standardOutput: out.write, standardError: err.write)
    } catch {
        close(out.read)
        close(err.read)
        throw error
    }
    // Both outputs are read while the child runs, so a full pipe never blocks it.
    async let output = ChildProcess.readToEnd(out.read)
    async let errors = ChildProcess.readToEnd(err.read)
    let exit = await child.waitForExit()
    return (exit.status, String(decoding: await output, as: UTF8.self), String(decoding: await errors, as: UTF8.self))
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
