// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks, kept apart so `swift test` in the main package never builds them.
// Run: cd Benchmarks && swift package benchmark
let package = Package(
    name: "PacaBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `paca` is a link to the repository root, so the dependency is named `paca` whatever the
        // clone's folder is called (a path dependency takes its name from the last component).
        .package(path: "paca"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The hit path's harness, shared by the `hit-path-…` benchmarks and `HitPathProfile`.
        .target(
            name: "HitPathHarness",
            dependencies: [
                .product(name: "PacaCore", package: "paca"),
                .product(name: "PacaEngine", package: "paca"),
                .product(name: "PacaServer", package: "paca"),
                .product(name: "PacaStorage", package: "paca"),
                .product(name: "PacaHTTPCaching", package: "paca"),
                .product(name: "PacaAccessLog", package: "paca"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/HitPathHarness"
        ),
        // Runs one hit-path case N times, for instruction counts under callgrind (no malloc
        // interposer, no benchmark runner in the way). Kept out of `Benchmarks/`, where the benchmark
        // plugin would take it for a benchmark and run it.
        .executableTarget(
            name: "HitPathProfile",
            dependencies: [
                "HitPathHarness",
                .product(name: "PacaAccessLog", package: "paca"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/HitPathProfile"
        ),
        .executableTarget(
            name: "PacaBenchmarks",
            dependencies: [
                "HitPathHarness",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PacaStorage", package: "paca"),
                .product(name: "PacaCore", package: "paca"),
                .product(name: "PacaEngine", package: "paca"),
                .product(name: "PacaRedis", package: "paca"),
                .product(name: "PacaServer", package: "paca"),
                .product(name: "PacaHTTPCaching", package: "paca"),
                .product(name: "PacaAccessLog", package: "paca"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/PacaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
