import Logging
public import NIOCore
public import NIOEmbedded
public import PacaAccessLog
import PacaCore
public import PacaEngine
import PacaHTTPCaching
import PacaServer
import PacaStorage

/// The whole hit path (issue 12) as the `hit-path-…` benchmarks and the `HitPathProfile` tool
/// drive it: request bytes in, response bytes out, through the handlers `HTTPServer` installs on
/// every connection (`HTTPServer.configurePipeline`) on an `EmbeddedChannel`, with a real
/// `ProxyEngine` over a memory-only `TieredCache`.
public enum HitPathCases {
    /// The cases, by name: a 1 KiB hit (also with the access log on: its record goes to the
    /// loop's shard, and the writer thread, with no file here, takes the shards every 200 ms), a
    /// 16 KiB hit, and a hit with a query (one parameter not keyed) whose response varies on
    /// `Accept-Language`, and a 1 KiB hit asked for with the thirteen fields a browser's `fetch`
    /// sends (what a field scan costs shows there). A name ending in `-logged` means a bench built
    /// with an access log.
    public static let all: [(name: String, request: String)] = [
        ("1KiB", "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        ("1KiB-logged", "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        ("16KiB", "GET /bench/16k.json HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"),
        (
            "query-vary",
            "GET /api/search?q=paca&page=2&utm_source=mail HTTP/1.1\r\nHost: bench.test\r\nAccept-Language: en\r\nUser-Agent: wrk\r\n\r\n"
        ),
        (
            "1KiB-browser",
            "GET /bench/1k.json HTTP/1.1\r\nHost: bench.test\r\nConnection: keep-alive\r\n"
                + "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\nsec-ch-ua-mobile: ?0\r\n"
                + "sec-ch-ua-platform: \"Linux\"\r\n"
                + "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
                + "Accept: application/json, text/plain, */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n"
                + "Sec-Fetch-Dest: empty\r\nReferer: https://bench.test/app/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
                + "Accept-Language: en-US,en;q=0.9\r\n\r\n"
        ),
    ]
}

/// An engine, its cache and connections' channels with the production handlers.
public struct HitPathBench {
    /// The first connection.
    public var channel: EmbeddedChannel { channels[0] }
    /// Every connection (one unless asked for more), all on this thread.
    public let channels: [EmbeddedChannel]
    /// The engine answering on them.
    public let engine: ProxyEngine

    /// Builds the engine (one catch-all route that leaves `utm_source` out of the key) and
    /// `connections` connections from one client.
    public init(accessLog: AccessLogWriter? = nil, connections: Int = 1) throws {
        let route = Route(
            name: "bench", match: "/*", origin: Origin(url: "http://origin.test")!, keyQuery: .exclude(["utm_source"]))
        let cache = TieredCache(configuration: .init(memoryMaxBytes: 64 << 20, memoryPolicy: .tinyLFU))
        engine = ProxyEngine(configuration: .init(routes: RouteTable([route])), cache: cache, origin: InstantOrigin(), accessLog: accessLog)
        channels = (0..<max(1, connections)).map { _ in EmbeddedChannel() }
        for channel in channels {
            try HTTPServer.configurePipeline(
                channel, configuration: .init(), responder: engine,
                logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).wait()
        }
    }

    /// Sends `request` until its answer is a hit (a miss may need the loop to run a few times),
    /// returns the last answer as text.
    public func exchange(_ request: ByteBuffer, connection: Int = 0) throws -> String {
        let channel = channels[connection]
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

    /// Sends `request` on connection `connection` and drops the answer: one measured hit.
    @inline(__always)
    public func hit(_ request: ByteBuffer, connection: Int = 0) throws -> Int {
        let channel = channels[connection]
        try channel.writeInbound(request)
        var bytes = 0
        while let out = try channel.readOutbound(as: ByteBuffer.self) { bytes &+= out.readableBytes }
        return bytes
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
