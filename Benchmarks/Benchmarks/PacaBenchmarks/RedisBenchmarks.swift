// L3 micro-benchmarks. They need `PacaRedis` from the main package; until the Benchmarks
// manifest lists that product, this file contributes an empty `redisBenchmarks`.
#if canImport(PacaRedis)
    import Benchmark
    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif
    import NIOCore
    import NIOPosix
    import PacaCore
    import PacaRedis

    /// L3 get over loopback of a 16 KiB entry (p50/p99 from the wall-clock metric). Starts its own
    /// `redis-server` on a free port (benchmarks cannot use PacaTestSupport) and stops it after.
    let redisBenchmarks: @Sendable () -> Void = {
        Benchmark(
            "L3 get over loopback (16 KiB entry)",
            configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5), maxIterations: 20_000)
        ) { benchmark async in
            guard let server = BenchmarkRedisServer.start() else {
                fatalError("redis-server could not be started (is it installed?)")
            }
            defer { server.stop() }
            let configuration = try! RedisTier.Configuration(url: server.url, timeout: .milliseconds(500), poolSize: 2)
            let tier = RedisTier(configuration: configuration)
            let now = SystemWallClock().now()
            let keys = await storeEntries(in: tier, now: now)
            guard await tier.get(keys[0], now: now) != nil else { fatalError("L3 did not return the entry it stored") }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                blackHole(await tier.get(keys[index % keys.count], now: now))
            }
            benchmark.stopMeasurement()
            await tier.shutdown()
        }
    }

    /// The same gets made on an event loop (`get(_:now:on:)`, the proxy's path: the loop's own
    /// connection, the reply read by the loop), one after another, each started by the last
    /// one's completion. (The benchmark above times one awaited get per sample, so its figures
    /// include a hop into and out of the awaiting task.)
    let redisLoopBenchmarks: @Sendable () -> Void = {
        Benchmark(
            "L3 get on an event loop (16 KiB entry)",
            // 1,000 gets per sample, so the two hops into and out of the loop around a sample
            // do not weigh on the per-get figures.
            configuration: .init(
                metrics: [.wallClock, .throughput], scalingFactor: .kilo, maxDuration: .seconds(5), maxIterations: 100)
        ) { benchmark async in
            guard let server = BenchmarkRedisServer.start() else {
                fatalError("redis-server could not be started (is it installed?)")
            }
            defer { server.stop() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = group.next()
            let configuration = try! RedisTier.Configuration(url: server.url, timeout: .milliseconds(500), poolSize: 2)
            let tier = RedisTier(configuration: configuration)
            let now = SystemWallClock().now()
            let keys = await storeEntries(in: tier, now: now)
            let count = benchmark.scaledIterations.count
            /// `remaining` gets in a row on the loop; fails on a miss.
            @Sendable func chain(_ remaining: Int) -> EventLoopFuture<Void> {
                guard remaining > 0 else { return loop.makeSucceededVoidFuture() }
                return tier.get(keys[remaining % keys.count], now: now, on: loop).flatMap { found in
                    guard found != nil else { return loop.makeFailedFuture(RedisError.protocolError("L3 missed")) }
                    return chain(remaining - 1)
                }
            }
            // Connect the loop's connection before measuring.
            try! await loop.flatSubmit { chain(16) }.get()
            benchmark.startMeasurement()
            try! await loop.flatSubmit { chain(count) }.get()
            benchmark.stopMeasurement()
            await tier.shutdown()
            try! await group.shutdownGracefully()
        }
    }

    /// Stores 64 entries of 16 KiB and returns their keys.
    private func storeEntries(in tier: RedisTier, now: UnixMillis) async -> [String] {
        let keys = (0..<64).map { "v1|http://127.0.0.1:9000|/api/bench/\($0)|fp" }
        await tier.set(
            keys.map { key in
                CacheEntry(
                    key: key, status: 200, headers: [.init(name: "Content-Type", value: "application/octet-stream")],
                    body: ByteBuffer(repeating: 0x5A, count: 16 * 1024),
                    timing: EntryTiming(
                        requestTime: now, responseTime: now, correctedInitialAge: 0, freshnessLifetime: 3_600_000,
                        storageExpiry: now + 3_600_000))
            })
        return keys
    }

    /// A `redis-server` child on 127.0.0.1 with a password and no persistence.
    private struct BenchmarkRedisServer {
        let pid: pid_t
        let port: Int
        let password: String
        let directory: String

        var url: String { "redis://:\(password)@127.0.0.1:\(port)/0" }

        static func start() -> BenchmarkRedisServer? {
            let candidates: [String] = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            let executable = candidates.first { path in access(path, X_OK) == 0 }
            guard let executable, let port = freePort() else { return nil }
            var template = Array("/tmp/paca-bench-redis-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { return nil }
            let directory = String(cString: made)
            let password = String(UInt64.random(in: 1...UInt64.max), radix: 16)
            let arguments = [
                executable, "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no",
                "--dir", directory, "--logfile", "",
            ]
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var pid = pid_t()
            guard posix_spawn(&pid, executable, &actions, nil, &argv, environ) == 0 else { return nil }
            let server = BenchmarkRedisServer(pid: pid, port: port, password: password, directory: directory)
            // Bounded readiness poll: up to 2 s.
            for _ in 0..<200 {
                if answersPing(port: port) { return server }
                usleep(10_000)
            }
            server.stop()
            return nil
        }

        func stop() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            _ = unlink("\(directory)/dump.rdb")
            rmdir(directory)
        }

        private static func loopback(port: UInt16) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            return address
        }

        private static func freePort() -> Int? {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var address = loopback(port: 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            return ok ? Int(UInt16(bigEndian: address.sin_port)) : nil
        }

        private static func answersPing(port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var address = loopback(port: UInt16(port))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { return false }
            let request = Array("PING\r\n".utf8)
            guard write(fd, request, request.count) == request.count else { return false }
            var reply = [UInt8](repeating: 0, count: 32)
            return read(fd, &reply, reply.count) > 0
        }
    }
#else
    /// Empty until the Benchmarks manifest depends on `PacaRedis`.
    let redisBenchmarks: @Sendable () -> Void = {}
    let redisLoopBenchmarks: @Sendable () -> Void = {}
#endif
