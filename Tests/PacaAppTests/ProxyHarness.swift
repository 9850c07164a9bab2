import Foundation
import NIOCore
import NIOPosix
import PacaApp
import PacaCore
import PacaTestSupport

/// A real proxy (real listener, real libcurl, real L1) on a free loopback port in front of a
/// `TestOrigin`, with an injected wall clock.
final class ProxyHarness: Sendable {
    let app: ProxyApplication
    let clock: ManualWallClock
    let group: MultiThreadedEventLoopGroup
    let port: Int
    let directory: String

    /// `config` is a routes.json document in which `ORIGIN` stands for `origin.url`; `sweepClock`
    /// paces L2's expiry sweep (default the real clock); `environment` adds variables the
    /// configuration reads (an encryption key) over the process's own.
    static func start(
        origin: TestOrigin?, config: String, originURL: String? = nil, directory reuse: String? = nil,
        sweepClock: any Clock<Duration> = ContinuousClock(), prewarmClock: any Clock<Duration> = ContinuousClock(),
        environment: [String: String] = [:]
    ) async throws -> ProxyHarness {
        let directory = try reuse ?? LiveChildren.makeDirectory("paca-test-")
        let text = config.replacingOccurrences(of: "ORIGIN", with: originURL ?? origin?.url ?? "http://127.0.0.1:1")
        let file = directory + "/routes.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(path: file)
        let clock = ManualWallClock(start: UnixMillis(Date().timeIntervalSince1970 * 1000))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let app: ProxyApplication
        do {
            app = try ProxyApplication(
                configuration: configuration, group: group, clock: clock, sweepClock: sweepClock, prewarmClock: prewarmClock,
                environment: { environment[$0] ?? ProcessInfo.processInfo.environment[$0] })
        } catch {
            try? await group.shutdownGracefully()
            if reuse == nil { LiveChildren.removeDirectory(directory) }
            throw error
        }
        let address = try await app.start()
        return ProxyHarness(app: app, clock: clock, group: group, port: address.port!, directory: directory)
    }

    private init(app: ProxyApplication, clock: ManualWallClock, group: MultiThreadedEventLoopGroup, port: Int, directory: String) {
        self.app = app
        self.clock = clock
        self.group = group
        self.port = port
        self.directory = directory
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await fetch(port: port, group: group, path: path, headers: headers)
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> TestResponse {
        try await fetch(port: port, group: group, method: method, path: path, headers: headers, body: body)
    }

    func connect(timeout: TimeAmount = .seconds(10)) async throws -> RawConnection {
        try await RawConnection.connect(port: port, group: group, timeout: timeout)
    }

    func shutdown(keepDirectory: Bool = false) async {
        await app.shutdown()
        try? await group.shutdownGracefully()
        if !keepDirectory { LiveChildren.removeDirectory(directory) }
    }
}

/// The simplest config: one catch-all route.
func catchAll(_ extra: String = "", routeExtra: String = "") -> String {
    """
    { "listen": "127.0.0.1:0" \(extra),
      "routes": [ { "name": "all", "match": "/*", "origin": "ORIGIN", "connect_timeout": "2s", "timeout": "5s" \(routeExtra) } ] }
    """
}
