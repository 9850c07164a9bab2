import Benchmark
import Logging
import NIOCore
import NIOEmbedded
import PacaAccessLog
import PacaCore
import PacaEngine
import PacaHTTPCaching
import PacaServer
import PacaStorage

/// The whole hit path (issue 12): request bytes in, response bytes out, through the handlers
/// `HTTPServer` installs on every connection (`HTTPServer.configurePipeline`) on an
/// `EmbeddedChannel`, with a real `ProxyEngine` over a memory-only `TieredCache`. Each case is
/// warmed first (one miss through an origin that answers at once), then every measured request is
/// an L1 hit. Figures are per request (`scalingFactor`); the malloc thresholds make a regression
/// show in `swift package benchmark thresholds check`. Names have no spaces: the tool writes
/// threshold files with spaces replaced but looks them up with the spaces kept.
func hitPathBenchmarks() {
    let cases: [(name: String, request: String)] = [
        ("1KiB", "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        // The same hit with the access log on: its record goes to the loop's shard, and the
        // writer thread (no file here) takes the shards every 200 ms.
        ("1KiB-logged", "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        ("16KiB", "GET /bench/16k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        (
            "query-vary",
            "GET /api/search?q=paca&page=2&utm_source=mail HTTP/1.1\r\nHost: bench.test\r\nAccept-Language: en\r\nUser-Agent: wrk\r\n\r\n"
        ),
    ]
    for (name, request) in cases {
        Benchmark(
            "hit-path-\(name)",
            configuration: .init(
                metrics: [.wallClock, .mallocCountTotal],
                scalingFactor: .kilo,
                maxDuration: .seconds(3),
                maxIterations: 10_000,
                thresholds: [
                    // Allocations are deterministic: one more per request is a regression (2% of a
                    // handful). Wall clock is noisy on shared machines: only a doubling shows.
                    // `thresholds check` compares p90 with the committed Thresholds/ files.
                    .mallocCountTotal: .init(relative: [.p50: 2.0, .p90: 2.0]),
                    .wallClock: .init(relative: [.p50: 100.0, .p90: 100.0]),
                ]
            )
        ) { benchmark in
            let bench = try HitPathBench(accessLog: name.hasSuffix("-logged") ? AccessLogWriter(path: nil) : nil)
            let bytes = ByteBuffer(string: request)
            let warm = try bench.exchange(bytes)
            precondition(warm.contains("Cache-Status: paca; hit"), "not a hit after warming: \(warm)")
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try bench.channel.writeInbound(bytes)
                while let out = try bench.channel.readOutbound(as: ByteBuffer.self) { blackHole(out) }
            }
            benchmark.stopMeasurement()
            _ = try? bench.channel.finish()
        }
    }
}

/// An engine, its cache and a connection's channel with the production handlers.
struct HitPathBench {
    let channel = EmbeddedChannel()
    let engine: ProxyEngine

    init(accessLog: AccessLogWriter? = nil) throws {
        let route = Route(
            name: "bench", match: "/*", origin: Origin(url: "http://origin.test")!, keyQuery: .exclude(["utm_source"]))
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 64 << 20, memoryPolicy: .tinyLFU))
        engine = ProxyEngine(configuration: .init(routes: RouteTable([route])), cache: cache, origin: InstantOrigin(), accessLog: accessLog)
        try HTTPServer.configurePipeline(
            channel, configuration: .init(), responder: engine, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).wait()
    }

    /// Sends `request` until its answer is a hit (a miss may need the loop to run a few times),
    /// returns the last answer as text.
    func exchange(_ request: ByteBuffer) throws -> String {
        var text = ""
        for _ in 0..<3 {
            try channel.writeInbound(request)
            channel.embeddedEventLoop.run()
            text = ""
            while let out = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: out) }
            if text.contains("Cache-Status: paca; hit") { return text }
        }
        return text
    }
}

/// An origin that answers every request at once: `/bench/1k.json` and `/bench/16k.json` with
/// bodies of that size, anything else with a small JSON varying on `Accept-Language`; all
/// cacheable for an hour.
final class InstantOrigin: OriginClient {
    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        let now = SystemWallClock().now()
        var headers = [
            HTTPField(name: "Content-Type", value: "application/json"),
            HTTPField(name: "Cache-Control", value: "public, max-age=3600"),
        ]
        let size: Int
        if request.url.hasSuffix("/bench/1k.json") {
            size = 1024
        } else if request.url.hasSuffix("/bench/16k.json") {
            size = 16 << 10
        } else {
            size = 512
            headers.append(HTTPField(name: "Vary", value: "Accept-Language"))
        }
        let response = OriginResponse(
            status: 200, headers: headers, body: ByteBuffer(repeating: 0x61, count: size), requestTime: now, responseTime: now)
        return eventLoop.makeSucceededFuture(response.streaming(on: eventLoop))
    }
}
