// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "fuse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fuse", targets: ["fuse"]),
        .executable(name: "fuse-lab", targets: ["fuse-lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.20.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    ],
    targets: [
        // Pure values and rules: no I/O.
        .target(name: "FuseModel", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // One glibc call that Swift's Glibc module does not declare (see CSpawn.h).
        .target(name: "CSpawn"),
        // The host boundary: processes, WireGuard, links/addresses/routes, nftables, sysctl; how
        // services stop.
        .target(name: "FuseSystem", dependencies: [
            "FuseModel", "CSpawn",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        // The master: HTTPS API, store, CA, tokens, network-map distribution.
        .target(name: "FuseControl", dependencies: [
            "FuseModel", "FuseSystem",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        ]),
        // Every node: enrolment, reconcile loop, cache, leave.
        .target(name: "FuseAgent", dependencies: [
            "FuseModel", "FuseSystem",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "X509", package: "swift-certificates"),
        ]),
        // The master process: the control plane with the master's own node, in one process.
        .target(name: "FuseMaster", dependencies: [
            "FuseModel", "FuseSystem", "FuseControl", "FuseAgent",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Lab topologies and benchmarks on network namespaces.
        .target(name: "FuseLab", dependencies: ["FuseModel", "FuseSystem"]),
        .target(name: "FuseCommands", dependencies: [
            "FuseModel", "FuseSystem", "FuseControl", "FuseAgent", "FuseMaster",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "FuseLabCommands", dependencies: [
            "FuseLab", "FuseModel", "FuseSystem", "FuseAgent",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "fuse", dependencies: ["FuseCommands"]),
        .executableTarget(name: "fuse-lab", dependencies: ["FuseLabCommands"]),
        .testTarget(name: "FuseModelTests", dependencies: ["FuseModel", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "FuseSystemTests", dependencies: ["FuseSystem", "FuseModel", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "FuseControlTests", dependencies: [
            "FuseControl", "FuseModel", "FuseSystem",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The real agents against the real control plane in one process, the host recorded
        // (RecordingHostPlane): no root, no namespaces.
        .testTarget(name: "FuseIntegrationTests", dependencies: [
            "FuseMaster", "FuseAgent", "FuseControl", "FuseModel", "FuseSystem",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Scripts/: the dashboard lab test's Python helpers (headless Chromium through selenium, the Prometheus parser).
        .testTarget(name: "FuseLabTests", dependencies: ["FuseLab", "FuseSystem", "FuseModel"], exclude: ["Scripts"]),
    ],
    swiftLanguageModes: [.v6]
)
