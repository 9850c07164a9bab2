import Foundation
import NIOCore
import PacaAccessLog
import PacaApp
import PacaCore
import PacaEngine
import PacaReplay
import PacaStorage
import PacaTestSupport
import Synchronization
import Testing

/// `paca simulate` must predict what the proxy does: the first part of the sample log, replayed
/// through a real proxy on the log's own clock (each request sent at its logged time on an
/// injected wall clock), against an origin that answers each URL with its logged size and TTL,
/// gives an L1 hit ratio within 2 percentage points of `simulate`'s for the same L1.
@Suite("simulate agrees with replay on the sample", .timeLimit(.minutes(2)))
struct SimulateAgreementTests {
    static let lines = 4000

    struct Sample {
        var requests: [LogRequest] = []
        /// URL → (bytes, the TTL it was stored with: the largest the log shows for it).
        var objects: [String: (bytes: Int, ttl: Int)] = [:]
    }

    static func sample() throws -> Sample {
        var sample = Sample()
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/access.log.gz").path
        _ = try LogReader(path: path).forEach { request in
            guard sample.requests.count < lines, request.method == "GET", request.status == 200, let ttl = request.ttl, ttl > 0 else {
                return
            }
            var request = request
            request.route = nil
            sample.requests.append(request)
            let known = sample.objects[request.url]
            sample.objects[request.url] = (request.bytes ?? known?.bytes ?? 0, max(ttl, known?.ttl ?? 0))
        }
        return sample
    }

    @Test("the L1 hit ratio of a proxy on the log's clock and of simulate agree within 2 points", arguments: ["4MB", "1MB"])
    func agreement(l1: String) async throws {
        let sample = try Self.sample()
        #expect(sample.requests.count == Self.lines)
        let objects = sample.objects
        let origin = try await TestOrigin { seen in
            let object = objects[seen.uri] ?? (bytes: 10, ttl: 60)
            return TestOrigin.Reply(
                headers: [("Cache-Control", "max-age=\(object.ttl)")], body: String(repeating: "x", count: object.bytes))
        }
        let proxy = try await ProxyHarness.start(
            origin: origin, config: catchAll(#", "storage": { "l1": { "max_bytes": "\#(l1)", "policy": "lru" } }"#))
        defer {
            Task {
                await proxy.shutdown(); await origin.shutdown()
            }
        }

        // One keep-alive connection for the whole run (bounded by the suite's time limit).
        let connection = try await RawConnection.connect(port: proxy.port, group: proxy.group, timeout: .seconds(110))
        var hits = 0
        for request in sample.requests {
            if let time = request.timestamp { proxy.clock.set(time) }
            try await connection.send("GET \(request.url) HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await connection.readResponse()
            if ReplayOutcome.classify(cacheStatus: response.headers("cache-status")) == .l1 { hits += 1 }
        }
        await connection.close()
        let replayed = Double(hits) / Double(sample.requests.count)

        let configuration = try ConfigurationLoader.parse(
            Data(
                catchAll(#", "storage": { "l1": { "max_bytes": "\#(l1)", "policy": "lru" } }"#).replacingOccurrences(
                    of: "ORIGIN", with: origin.url
                ).utf8),
            file: proxy.directory + "/routes.json")
        let budget = configuration.memory.maxBytes
        var options = CacheSimulation.Options()
        // What L1 counts beyond the body: the key, the stored header block and a fixed overhead.
        options.entryOverheadBytes = 700
        let simulation = CacheSimulation(
            configurations: [.init(policy: .lru, sizeBytes: budget)], keying: SimulationKeying(routes: RouteTable(configuration.routes)),
            options: options)
        for request in sample.requests { simulation.record(request) }
        let simulated = Double(try #require(simulation.results.first).hits) / Double(simulation.requests)
        #expect(abs(replayed - simulated) <= 0.02, "L1 \(l1): replay \(replayed), simulate \(simulated)")
    }
}
