// swift-tools-version:6.0
// Skiff takes no package dependencies: only the toolchain and Debian's libsystemd.
// Targets are the architecture; imports flow one way:
//   skiff (executable) → SkiffGateway → SkiffInvoke → SkiffRuntime → SkiffHTTP → SkiffNet → SkiffPOSIX → CLinux
//                                     → SkiffMetrics, SkiffAPI
//                                     → SkiffQueue → SkiffInvoke, SkiffStream (the asynchronous calls' queue),
//                                                    SkiffNATSClient (subject triggers)
//                      → SkiffClient  → SkiffAPI, SkiffHTTP, SkiffStack
//                      → SkiffBuild   → SkiffStack, SkiffImage, SkiffContainerd → SkiffAPI
//   skiff-watchdog     → SkiffHTTP, SkiffNet, SkiffMetrics, SkiffService
//                                     → SkiffImage, SkiffSystemd → CSystemd, SkiffLog
//                      → SkiffService → SkiffPOSIX
//                      → SkiffNATS    → SkiffNet (the broker shares the loops, never SkiffHTTP), SkiffStream
//                                       (JetStream's durable message logs) → SkiffPOSIX
//                      → SkiffMetricsStore → SkiffMetrics, SkiffPOSIX (the time-series store; being built, not wired
//                                            in yet)
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "Skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffHTTP", targets: ["SkiffHTTP"]),
        .library(name: "SkiffRuntime", targets: ["SkiffRuntime"]),
    ],
    targets: [
        // Thin C shim: what Glibc does not give Swift (epoll, eventfd, accept4, pipe2, …).
        .target(name: "CLinux"),
        // File descriptors, sockets, the errno-capturing call wrapper, epoll event loops and their threads.
        // The only place for Unsafe* pointers and system calls.
        .target(name: "SkiffPOSIX", dependencies: ["CLinux"], swiftSettings: strict),
        // Byte-stream connections and acceptors on the event loops, for any protocol: HTTP today, NATS next.
        .target(name: "SkiffNet", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // Durable message logs for streams (JetStream's storage, the queue's): no sockets, no functions.
        .target(name: "SkiffStream", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The NATS-compatible broker: the client protocol on the shared event loops.
        .target(name: "SkiffNATS", dependencies: ["SkiffNet", "SkiffPOSIX", "SkiffStream"], swiftSettings: strict),
        // A NATS client on the same loops, for the daemon's own services (subject triggers and their replies).
        .target(name: "SkiffNATSClient", dependencies: ["SkiffNet", "SkiffPOSIX"], swiftSettings: strict),
        // HTTP/1.1 server, client and router over bytes. Knows nothing of functions or OpenFaaS.
        .target(name: "SkiffHTTP", dependencies: ["SkiffNet", "SkiffPOSIX"], swiftSettings: strict),
        // Debian's libsystemd (libsystemd-dev): sd_notify and the journal. The only system library Skiff links.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // A value-type logger over handlers (stderr, memory); libraries are handed one.
        .target(name: "SkiffLog", swiftSettings: strict),
        // systemd integration: sd_notify (READY, STATUS, STOPPING, WATCHDOG) and journald entries with fields.
        .target(name: "SkiffSystemd", dependencies: ["CSystemd", "SkiffLog"], swiftSettings: strict),
        // The metrics registry (collectors; counter, gauge and histogram families) and the Prometheus text
        // exposition, for the daemon and the watchdog; the metrics store reads the registry in-process.
        .target(name: "SkiffMetrics", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The time-series store: Prometheus-compatible chunks, the head and its write-ahead log, blocks, PromQL.
        .target(
            name: "SkiffMetricsStore", dependencies: ["SkiffMetrics", "SkiffPOSIX", "SkiffLog"], swiftSettings: strict),
        // OCI images without a registry: image references, SHA-256, tar, the OCI model and image archives.
        .target(name: "SkiffImage", swiftSettings: strict),
        // containerd through its command-line client: `ctr`'s arguments and outputs, and the image operations
        // that builds need too (find, import, export, pull, run a throwaway container).
        .target(
            name: "SkiffContainerd", dependencies: ["SkiffAPI", "SkiffPOSIX", "SkiffImage"], swiftSettings: strict),
        // Functions as containerd containers: ctr, CNI, replicas, readiness, restarts, desired state, logs.
        .target(
            name: "SkiffRuntime",
            dependencies: [
                "SkiffAPI", "SkiffContainerd", "SkiffHTTP", "SkiffPOSIX", "SkiffImage", "SkiffLog", "SkiffSystemd",
            ],
            swiftSettings: strict),
        // The OpenFaaS API's JSON bodies, shared by the gateway and the CLI.
        .target(name: "SkiffAPI", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The one path by which anything calls a function (the gateway's proxy, the queue's worker, triggers):
        // acquire a replica, forward, count, release. Function addresses, call ids, per-function timeouts.
        .target(
            name: "SkiffInvoke",
            dependencies: ["SkiffRuntime", "SkiffHTTP", "SkiffPOSIX", "SkiffLog", "SkiffMetrics"],
            swiftSettings: strict),
        // Asynchronous calls: the durable queue (on SkiffStream, shared with the broker's JetStream), the worker
        // that makes them through the invoker with retries, dead letters and callbacks.
        .target(
            name: "SkiffQueue",
            dependencies: [
                "SkiffInvoke", "SkiffStream", "SkiffRuntime", "SkiffHTTP", "SkiffPOSIX", "SkiffLog", "SkiffMetrics",
                "SkiffAPI", "SkiffNATSClient",
            ],
            swiftSettings: strict),
        // The OpenFaaS-compatible gateway: system API, auth, secrets, logs, metrics, the invocation proxy.
        .target(
            name: "SkiffGateway",
            dependencies: [
                "SkiffAPI", "SkiffInvoke", "SkiffQueue", "SkiffRuntime", "SkiffHTTP", "SkiffPOSIX", "SkiffLog",
                "SkiffMetrics", "SkiffMetricsStore",
            ],
            swiftSettings: strict),
        // Stack files (stack.yml) and the YAML subset they are written in, with faas-cli's ${VAR} substitution.
        .target(name: "SkiffStack", swiftSettings: strict),
        // Templates and daemonless image builds: base layers + watchdog + template + dependencies + handler.
        .target(
            name: "SkiffBuild", dependencies: ["SkiffStack", "SkiffImage", "SkiffContainerd", "SkiffAPI"],
            swiftSettings: strict),
        // The gateway's HTTP client for the CLI verbs: auth, JSON calls, streamed logs and invocations.
        .target(
            name: "SkiffClient", dependencies: ["SkiffAPI", "SkiffHTTP", "SkiffPOSIX", "SkiffStack"],
            swiftSettings: strict),
        // The daemon's root: the Service protocol and the service group that runs every long-lived part.
        .target(name: "SkiffService", dependencies: ["SkiffPOSIX"], swiftSettings: strict),
        // The one executable: `skiff serve` and the client verbs. Wires the targets together.
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffGateway", "SkiffHTTP", "SkiffNATS", "SkiffService", "SkiffRuntime", "SkiffSystemd", "SkiffLog",
                "SkiffMetricsStore",
                "SkiffAPI", "SkiffQueue", "SkiffNATSClient", "SkiffClient", "SkiffBuild", "SkiffStack", "SkiffImage",
            ],
            swiftSettings: strict),
        // The in-image watchdog: the function's HTTP server on port 8080. The Swift runtime is linked statically so
        // that it needs nothing but glibc inside an image.
        .executableTarget(
            name: "skiff-watchdog",
            dependencies: ["SkiffHTTP", "SkiffNet", "SkiffPOSIX", "SkiffService", "SkiffMetrics"],
            swiftSettings: strict,
            linkerSettings: [
                .unsafeFlags(["-static-executable"])
            ]),
        // Fixed-body and proxy servers used by bench/http; not shipped.
        .executableTarget(
            name: "skiff-httpbench", dependencies: ["SkiffHTTP"], path: "bench/Sources/skiff-httpbench",
            swiftSettings: strict),

        // The metrics store against Prometheus (data, served store, exporter, live scraping), used by bench/metrics;
        // not shipped.
        .executableTarget(
            name: "skiff-metricsbench",
            dependencies: ["SkiffMetricsStore", "SkiffMetrics", "SkiffHTTP", "SkiffPOSIX", "SkiffLog"],
            path: "bench/Sources/skiff-metricsbench", swiftSettings: strict),

        // Cold start against ctr run and runc run, used by bench/coldstart; not shipped.
        .executableTarget(
            name: "skiff-coldbench",
            dependencies: ["SkiffRuntime", "SkiffImage", "SkiffHTTP", "SkiffPOSIX", "SkiffLog"],
            path: "bench/Sources/skiff-coldbench", swiftSettings: strict),

        // Real-container test fixtures shared by the runtime and gateway tests; not shipped.
        .target(
            name: "SkiffTestSupport",
            dependencies: ["SkiffRuntime", "SkiffImage", "SkiffHTTP", "SkiffPOSIX", "SkiffLog", "SkiffNATSClient"],
            path: "Tests/SkiffTestSupport"),

        .testTarget(name: "SkiffPOSIXTests", dependencies: ["SkiffPOSIX", "SkiffTestSupport"]),
        .testTarget(name: "SkiffNetTests", dependencies: ["SkiffNet", "SkiffPOSIX", "SkiffTestSupport"]),
        .testTarget(name: "SkiffStreamTests", dependencies: ["SkiffStream", "SkiffPOSIX", "SkiffTestSupport"]),
        .testTarget(
            name: "SkiffNATSTests",
            dependencies: ["SkiffNATS", "SkiffNATSClient", "SkiffNet", "SkiffPOSIX", "SkiffTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "SkiffHTTPTests", dependencies: ["SkiffHTTP", "SkiffNet", "SkiffPOSIX", "SkiffTestSupport"]),
        .testTarget(name: "SkiffServiceTests", dependencies: ["SkiffService"]),
        .testTarget(
            name: "SkiffGatewayTests",
            dependencies: [
                "SkiffGateway", "SkiffInvoke", "SkiffMetrics", "SkiffAPI", "SkiffRuntime", "SkiffImage", "SkiffHTTP",
                "SkiffPOSIX", "SkiffLog", "SkiffTestSupport", "SkiffQueue", "SkiffStream", "SkiffNATS",
                "SkiffNATSClient", "SkiffMetricsStore",
            ],
            exclude: ["Fixtures"]),
        .testTarget(name: "SkiffMetricsTests", dependencies: ["SkiffMetrics"]),
        .testTarget(
            name: "SkiffMetricsStoreTests",
            dependencies: ["SkiffMetricsStore", "SkiffMetrics", "SkiffLog", "SkiffPOSIX", "SkiffTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "SkiffStackTests", dependencies: ["SkiffStack"]),
        .testTarget(
            name: "SkiffBuildTests",
            dependencies: ["SkiffBuild", "SkiffStack", "SkiffImage", "SkiffRuntime", "SkiffTestSupport"]),
        .testTarget(name: "SkiffImageTests", dependencies: ["SkiffImage", "SkiffPOSIX"]),
        .testTarget(
            name: "SkiffSystemdTests", dependencies: ["SkiffSystemd", "SkiffLog", "SkiffPOSIX", "SkiffTestSupport"]),
        .testTarget(
            name: "SkiffRuntimeTests",
            dependencies: ["SkiffRuntime", "SkiffImage", "SkiffHTTP", "SkiffPOSIX", "SkiffLog", "SkiffTestSupport"]),
        // Runs the built skiff-watchdog binary (a dependency on the executable would link the test bundle with its
        // -static-executable flag).
        .testTarget(
            name: "skiffWatchdogTests",
            dependencies: ["SkiffHTTP", "SkiffImage", "SkiffPOSIX", "SkiffRuntime", "SkiffTestSupport"]),
        .testTarget(
            name: "skiffTests",
            dependencies: ["skiff", "SkiffAPI", "SkiffHTTP", "SkiffPOSIX", "SkiffNATSClient", "SkiffTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
