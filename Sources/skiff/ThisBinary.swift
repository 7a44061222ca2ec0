import Foundation

/// The running skiff binary. containerd's shim runs it as the log collector, `skiff build` takes the watchdog
/// beside it, and `skiff install` copies it and finds the templates from it.
enum ThisBinary {
    static var path: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static var directory: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }
}
