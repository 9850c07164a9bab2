// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "paca",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "paca", targets: ["paca"]),
        .library(name: "PacaStorage", targets: ["PacaStorage"]),
        .library(name: "PacaHTTPCaching", targets: ["PacaHTTPCaching"]),
        .library(name: "PacaCore", targets: ["PacaCore"]),
        .library(name: "PacaEngine", targets: ["PacaEngine"]),
        .library(name: "PacaRedis", targets: ["PacaRedis"]),
        .library(name: "PacaWarming", targets: ["PacaWarming"]),
        .library(name: "PacaServer", targets: ["PacaServer"]),
        .library(name: "PacaAccessLog", targets: ["PacaAccessLog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries: a modulemap and a header of static inline wrappers each.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // The processor's CRC-32C instruction, static inline (nothing to link).
        .systemLibrary(name: "CCRC32C"),
        // memfd_create(2) for bodies sent with sendfile, static inline (nothing to link).
        .systemLibrary(name: "CMemfd"),
        // A thread-local word for `ThreadSlot` (one C variable and two inline accessors).
        .target(name: "CThreadSlot"),

        .target(
            name: "PacaCore",
            dependencies: [
                "CCRC32C", "CMemfd", "CThreadSlot", "PacaHTTPCaching",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(name: "PacaHTTPCaching", swiftSettings: strict),
        .target(
            name: "PacaStorage",
            dependencies: [
                "PacaCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The only module that imports swift-crypto: AES-GCM sealing of entries at rest.
        .target(
            name: "PacaSealing",
            dependencies: [
                "PacaCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaRedis",
            dependencies: [
                "CHiredis", "PacaCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaUpstream",
            dependencies: [
                "CCurl", "PacaCore", "PacaHTTPCaching",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaAccessLog",
            dependencies: [
                "PacaCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaEngine",
            dependencies: [
                "PacaCore", "PacaHTTPCaching", "PacaStorage", "PacaAccessLog",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaReplay",
            dependencies: [
                "PacaCore", "PacaAccessLog", "PacaEngine", "PacaStorage", "PacaHTTPCaching", "PacaWarming",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaWarming",
            dependencies: ["PacaCore", "PacaStorage", "PacaAccessLog", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PacaServer",
            dependencies: [
                "PacaCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaAdmin",
            dependencies: [
                "PacaCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PacaApp",
            dependencies: [
                "PacaCore", "PacaHTTPCaching", "PacaStorage", "PacaUpstream", "PacaAccessLog",
                "PacaEngine", "PacaServer", "PacaRedis", "PacaAdmin", "PacaSealing", "PacaWarming", "PacaReplay",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "paca",
            dependencies: [
                "PacaApp", "PacaCore", "PacaReplay", "PacaAccessLog", "PacaEngine", "PacaUpstream", "PacaWarming", "PacaRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // posix_spawn's chdir/closefrom actions and pipe2 for the tests' child processes.
        .systemLibrary(name: "CSpawn", path: "Tests/CSpawn"),
        .target(
            name: "PacaTestSupport",
            dependencies: [
                "CSpawn", "PacaRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/PacaTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaCoreTests",
            dependencies: [
                "PacaCore", .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "PacaHTTPCachingTests", dependencies: ["PacaHTTPCaching"], swiftSettings: strict),
        .testTarget(
            name: "PacaStorageTests", dependencies: ["PacaStorage", "PacaCore", "PacaSealing", "PacaTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "PacaRedisTests",
            dependencies: [
                "PacaRedis", "PacaCore", "PacaSealing", "PacaTestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaUpstreamTests",
            dependencies: ["PacaUpstream", "PacaCore", "PacaTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaAccessLogTests",
            dependencies: [
                "PacaAccessLog", "PacaCore", "PacaTestSupport", .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaReplayTests",
            dependencies: [
                "PacaReplay", "PacaAccessLog", "PacaEngine", "PacaStorage", "PacaCore", "PacaHTTPCaching", "PacaWarming",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaEngineTests",
            dependencies: [
                "PacaEngine", "PacaCore", "PacaStorage", "PacaHTTPCaching",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaWarmingTests",
            dependencies: ["PacaWarming", "PacaCore", "PacaStorage", "PacaTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaServerTests",
            dependencies: ["PacaServer", "PacaTestSupport", .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaAdminTests",
            dependencies: ["PacaAdmin", "PacaCore", .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacaAppTests",
            dependencies: [
                "PacaApp", "PacaCore", "PacaRedis", "PacaSealing", "PacaTestSupport", "paca", "PacaReplay", "PacaAccessLog", "PacaEngine",
                "PacaStorage",
            ],
            swiftSettings: strict
        ),
    ]
)
