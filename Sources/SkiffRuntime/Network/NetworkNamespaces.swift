import Foundation
import SkiffAPI
import SkiffPOSIX

/// Named network namespaces (`/run/netns/NAME`, as `ip netns` makes them). Each replica gets one before its
/// container exists, so its address is known before the process starts and survives task restarts.
struct NetworkNamespaces: Sendable {
    let ipPath: String

    static func path(_ name: String) -> String { "/run/netns/\(name)" }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: Self.path(name)) }

    /// Creates the namespace with its loopback up (functions talk to themselves on 127.0.0.1).
    func create(_ name: String) async throws {
        if !exists(name) { try await ip(["netns", "add", name]) }
        try await ip(["-n", name, "link", "set", "lo", "up"])
    }

    func delete(_ name: String) async throws {
        guard exists(name) else { return }
        try await ip(["netns", "delete", name])
    }

    /// Creates the bridge with its address and brings it up, unless it already exists, so that the daemon can
    /// listen on the bridge address before the first function starts (the CNI bridge plugin would otherwise
    /// create it at the first ADD).
    func ensureBridge(_ name: String, subnet: Subnet) async throws {
        let address = "\(subnet.gatewayAddress)/\(subnet.prefixLength)"
        let shown = try await ChildProcess(ipPath, ["-o", "-4", "addr", "show", "dev", name], timeout: .seconds(10))
            .run()
        if !shown.succeeded {
            try await ip(["link", "add", name, "type", "bridge"])
        }
        if !shown.outputText.contains(" \(address) ") {
            try await ip(["addr", "replace", address, "dev", name])
        }
        try await ip(["link", "set", name, "up"])
    }

    func deleteBridge(_ name: String) async throws {
        let outcome = try await ChildProcess(ipPath, ["link", "delete", name], timeout: .seconds(10)).run()
        if !outcome.succeeded && !outcome.errorText.contains("Cannot find device") {
            try await ip(["link", "delete", name])
        }
    }

    private func ip(_ arguments: [String]) async throws {
        do {
            _ = try await ChildProcess(ipPath, arguments, timeout: .seconds(30)).runChecked()
        } catch let error as ChildProcessError {
            throw FunctionRuntimeError.system(error.description)
        } catch {
            throw FunctionRuntimeError.system("cannot run \(ipPath): \(error); install iproute2")
        }
    }
}
