// swift-tools-version:6.0
// Skiff takes no package dependencies: only the toolchain and Debian's libsystemd.
// Targets are the architecture; imports flow one way:
//   skiff (executable) → SkiffHTTP → SkiffPOSIX → CLinux
//                      → SkiffService → SkiffPOSIX
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "Skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffHTTP", targets: ["SkiffHTTP"]),
    ],
    targets: [
        // Thin C shim: what Glibc does not give Swift (epoll, eventfd, accept4, pipe2, …).
        .target(name: "CLinux"),
        // File descriptors, sockets, the errno-capturing call wrapper, epoll event loops and their threads.
        // The only place for Unsafe* pointers and system calls.
        .target(name: "SkiffPOSIX", dependencies: ["CLinux"], swiftSettings: strict),
        // HTTP/1.1 server, client and router over bytes. Knows nothing of functions or OpenFaaS.
        .target(name: "SkiffHTTP", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The daemon's root: the Service protocol and the service group that runs every long-lived part.
        .target(name: "SkiffService", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The one executable: `skiff serve` and the client verbs. Wires the targets together.
        .executableTarget(name: "skiff", dependencies: ["SkiffHTTP", "SkiffService"], swiftSettings: strict),
        // Fixed-body and proxy servers used by bench/http; not shipped.
        .executableTarget(
            name: "skiff-httpbench", dependencies: ["SkiffHTTP"], path: "bench/Sources/skiff-httpbench",
            swiftSettings: strict),

        .testTarget(name: "SkiffPOSIXTests", dependencies: ["SkiffPOSIX"]),
        .testTarget(name: "SkiffHTTPTests", dependencies: ["SkiffHTTP", "SkiffPOSIX"]),
        .testTarget(name: "SkiffServiceTests", dependencies: ["SkiffService"]),
        .testTarget(name: "skiffTests", dependencies: ["skiff", "SkiffHTTP", "SkiffPOSIX"]),
    ],
    swiftLanguageModes: [.v6]
)
