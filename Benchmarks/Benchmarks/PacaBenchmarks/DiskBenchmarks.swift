import Benchmark
import NIOCore
import PacaCore
import PacaStorage
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A populated L2 directory shared by one benchmark's samples: created in its setup hook,
/// shut down and deleted in its teardown.
private enum FixtureError: Error { case noTemporaryDirectory }

private final class DiskFixture: Sendable {
    static let entryCount = 512
    let directory: String
    let cache: DiskCache
    let keys: [String]

    init(compressible: Bool) async throws {
        var template = Array("/tmp/paca-l2-bench-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw FixtureError.noTemporaryDirectory
        }
        directory = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        cache = try DiskCache(directory: directory, maxBytes: 1 << 30)
        keys = (0..<Self.entryCount).map { "v1|http://127.0.0.1:9000|/api/items/\($0)|0123456789abcdef" }
        await cache.waitForIndex()
        var random = SystemRandomNumberGenerator()
        for key in keys {
            var body = ByteBuffer()
            if compressible {
                while body.readableBytes < 16 << 10 { body.writeString("{\"id\":\(body.readableBytes),\"name\":\"item\"},") }
                body.moveWriterIndex(to: 16 << 10)
            } else {
                body.writeBytes((0..<(16 << 10)).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            let timing = EntryTiming(
                requestTime: 0, responseTime: 0, correctedInitialAge: 0, freshnessLifetime: 60_000, storageExpiry: .max)
            await cache.set(
                CacheEntry(
                    key: key, status: 200, headers: [.init(name: "Content-Type", value: "application/json")], body: body,
                    timing: timing))
        }
        // Warm the page cache: every file read once before measuring.
        for key in keys { _ = await cache.get(key, now: 1) }
    }

    func close() async {
        await cache.removeAll()
        await cache.shutdown()
        rmdir("\(directory)/tmp")
        for first in 0..<16 {
            let name = String(first, radix: 16)
            for second in 0..<256 {
                rmdir("\(directory)/\(name)/\(String(format2: second))")
            }
            rmdir("\(directory)/\(name)")
        }
        rmdir(directory)
    }
}

extension String {
    fileprivate init(format2 value: Int) {
        let text = String(value, radix: 16)
        self = text.count == 1 ? "0" + text : text
    }
}

private let currentFixture = Mutex<DiskFixture?>(nil)

/// L2 micro-benchmarks: one `get` per sample, so the wall-clock percentiles are per lookup
/// (the hop to the I/O pool, open/fstat/pread/close, CRC-32C, decode; plus inflate for gzip).
/// Call from the main `benchmarks` closure.
let diskBenchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 20_000
    )
    for (label, compressible) in [("identity at rest", false), ("gzip at rest, inflated", true)] {
        Benchmark(
            "L2 get (16 KiB entry, page cache warm, \(label))", configuration: configuration,
            closure: { benchmark async in
                guard let fixture = currentFixture.withLock({ $0 }) else { return }
                let keys = fixture.keys
                benchmark.startMeasurement()
                for index in benchmark.scaledIterations {
                    blackHole(await fixture.cache.get(keys[index % keys.count], now: 1))
                }
            },
            setup: {
                let fixture = try await DiskFixture(compressible: compressible)
                currentFixture.withLock { $0 = fixture }
            },
            teardown: {
                if let fixture = currentFixture.withLock({ state in
                    defer { state = nil }; return state
                }) {
                    await fixture.close()
                }
            }
        )
    }
}
