import Foundation
import SkiffAPI
import SkiffPOSIX

/// A CNI network driven without a library: each plugin binary of faasd's conflist shape (bridge with
/// host-local IPAM, then firewall) is executed with the CNI environment and its JSON config on stdin. ADD
/// results are cached on disk per replica, because DEL needs them (and after a crash, they are how leftovers
/// are found).
struct CNINetwork: Sendable {
    static let cniVersion = "0.4.0"

    let name: String
    let bridge: String
    let subnet: Subnet
    let pluginDirectory: String
    /// host-local's allocations (one file per address).
    let ipamDirectory: String
    let cacheDirectory: String

    init(bridge: String, subnet: Subnet, pluginDirectory: String, stateDirectory: String) {
        self.name = "skiff-\(bridge)"
        self.bridge = bridge
        self.subnet = subnet
        self.pluginDirectory = pluginDirectory
        self.ipamDirectory = "\(stateDirectory)/cni/ipam"
        self.cacheDirectory = "\(stateDirectory)/cni/results"
    }

    private struct BridgeConfig: Encodable {
        var cniVersion = CNINetwork.cniVersion
        var name: String
        var type = "bridge"
        var bridge: String
        var isGateway = true
        var ipMasq = true
        var ipam: IPAM
    }

    private struct IPAM: Encodable {
        var type = "host-local"
        var subnet: String
        var dataDir: String
        var routes = [["dst": "0.0.0.0/0"]]
    }

    private struct FirewallConfig: Encodable {
        var cniVersion = CNINetwork.cniVersion
        var name: String
        var type = "firewall"
    }

    /// The plugin chain: (binary name, config JSON without prevResult).
    private func plugins() throws -> [(type: String, config: [UInt8])] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bridgeConfig = BridgeConfig(
            name: name, bridge: bridge, ipam: IPAM(subnet: subnet.description, dataDir: ipamDirectory))
        return [
            ("bridge", Array(try encoder.encode(bridgeConfig))),
            ("firewall", Array(try encoder.encode(FirewallConfig(name: name)))),
        ]
    }

    /// The chain as a CNI network configuration list, the file CNI tools (cnitool, nerdctl) read from
    /// /etc/cni/net.d. Skiff runs the plugins itself and does not read it back.
    func conflist() throws -> [UInt8] {
        var text = "{\"cniVersion\":\"\(Self.cniVersion)\",\"name\":\"\(name)\",\"plugins\":["
        text += try plugins().map { String(decoding: $0.config, as: UTF8.self) }.joined(separator: ",")
        return Array((text + "]}\n").utf8)
    }

    /// Attaches the namespace to the bridge and returns the address host-local gave it.
    func add(id: String, networkNamespace: String, interface: String = "eth0") async throws -> String {
        var previous: [UInt8]?
        do {
            for plugin in try plugins() {
                previous = try await execute(
                    plugin.type, command: "ADD", id: id, networkNamespace: networkNamespace, interface: interface,
                    config: plugin.config, previous: previous)
            }
        } catch {
            // CNI's rule: a failed ADD is cleaned up with a DEL.
            try? await delete(id: id, networkNamespace: networkNamespace, interface: interface, cached: previous)
            throw error
        }
        guard let result = previous, let address = Self.firstAddress(result) else {
            throw FunctionRuntimeError.system("the CNI bridge plugin returned no IP address")
        }
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try Data(result).write(to: URL(fileURLWithPath: cachePath(id)), options: .atomic)
        return address
    }

    /// Detaches and releases the address. Succeeds when everything is already gone (after a reboot the
    /// namespace no longer exists; the address and firewall rules are still released).
    func delete(id: String, networkNamespace: String, interface: String = "eth0") async throws {
        let cached = FileManager.default.contents(atPath: cachePath(id)).map(Array.init)
        try await delete(id: id, networkNamespace: networkNamespace, interface: interface, cached: cached)
        try? FileManager.default.removeItem(atPath: cachePath(id))
    }

    /// Replica ids with a cached ADD result: what this instance attached and has not detached yet.
    func attachedIDs() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    }

    private func delete(id: String, networkNamespace: String, interface: String, cached: [UInt8]?) async throws {
        var firstError: (any Error)?
        for plugin in try plugins().reversed() {
            do {
                _ = try await execute(
                    plugin.type, command: "DEL", id: id, networkNamespace: networkNamespace, interface: interface,
                    config: plugin.config, previous: cached)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    private func cachePath(_ id: String) -> String { "\(cacheDirectory)/\(id).json" }

    private func execute(
        _ type: String, command: String, id: String, networkNamespace: String, interface: String, config: [UInt8],
        previous: [UInt8]?
    ) async throws -> [UInt8] {
        var input = config
        if let previous {
            // Splice `"prevResult": <previous>` into the config object.
            input.removeLast()  // "}"
            input += Array(#","prevResult":"#.utf8) + previous + [UInt8(ascii: "}")]
        }
        var process = ChildProcess("\(pluginDirectory)/\(type)", [], timeout: .seconds(60))
        process.environment = [
            "CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_NETNS": networkNamespace, "CNI_IFNAME": interface,
            "CNI_PATH": pluginDirectory, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        process.standardInput = input
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await process.run()
        } catch {
            throw FunctionRuntimeError.system(
                "cannot run the CNI plugin \(pluginDirectory)/\(type): \(error); install containernetworking-plugins")
        }
        guard outcome.succeeded else {
            struct CNIError: Decodable {
                var code: Int?
                var msg: String?
                var details: String?
            }
            let said = try? JSONDecoder().decode(CNIError.self, from: Data(outcome.standardOutput))
            let message = [said?.msg, said?.details].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            throw FunctionRuntimeError.system(
                "CNI \(type) \(command) for \(id) failed: "
                    + (message.isEmpty ? outcome.errorText + outcome.outputText : message))
        }
        return outcome.standardOutput
    }

    static func firstAddress(_ result: [UInt8]) -> String? {
        struct Result: Decodable {
            struct IP: Decodable { var address: String }
            var ips: [IP]?
        }
        guard let decoded = try? JSONDecoder().decode(Result.self, from: Data(result)),
            let cidr = decoded.ips?.first?.address
        else { return nil }
        return cidr.split(separator: "/").first.map(String.init)
    }
}
