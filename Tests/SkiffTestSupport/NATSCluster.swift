import Foundation
import Glibc
import SkiffPOSIX

/// A cluster of Debian's nats-server with JetStream on loopback, three nodes by default, each in a process of its
/// own with its store in a temporary folder: what `--queue nats://…` is tested against. Nodes can be killed
/// (SIGKILL), as a machine that dies would be.
public final class NATSCluster: Sendable {
    public static let path = "/usr/sbin/nats-server"

    public struct Node: Sendable {
        public let name: String
        public let port: Int
        public let pid: pid_t
    }

    public let nodes: [Node]
    public let folder: String

    /// Starts the nodes and returns once each says it is ready and the cluster has a JetStream meta leader.
    public init(nodes count: Int = 3) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.path) else {
            throw RawHTTPError("\(Self.path) is not installed: run scripts/test (it installs Debian's nats-server)")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-nats-cluster-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let clientPorts = try (0..<count).map { _ in try freePort() }
        let routePorts = try (0..<count).map { _ in try freePort() }
        let routes = routePorts.map { "nats-route://127.0.0.1:\($0)" }.joined(separator: ", ")
        var nodes: [Node] = []
        var logs: [AsyncThrowingStream<String, any Error>] = []
        for index in 0..<count {
            let name = "n\(index + 1)"
            let configuration = """
                server_name: \(name)
                listen: 127.0.0.1:\(clientPorts[index])
                jetstream { store_dir: "\(folder)/\(name)" }
                cluster { name: skiff-test, listen: 127.0.0.1:\(routePorts[index]), routes: [\(routes)] }
                """
            let file = "\(folder)/\(name).conf"
            try configuration.write(toFile: file, atomically: true, encoding: .utf8)
            let started = try ChildProcess("/bin/sh", ["-c", "exec \(Self.path) -c '\(file)' 2>&1"]).start()
            nodes.append(Node(name: name, port: clientPorts[index], pid: started.pid))
            logs.append(started.lines)
        }
        self.nodes = nodes
        // Each node's log is read to its end (so that its pipe never fills); the start waits for every node to be
        // ready and one to say the cluster has a meta leader.
        let (events, event) = AsyncStream<String>.makeStream()
        for lines in logs {
            Task {
                for try await line in lines {
                    if line.contains("Server is ready") { event.yield("ready") }
                    if line.contains("JetStream cluster new metadata leader")
                        || line.contains("Self is new JetStream cluster metadata leader")
                    {
                        event.yield("leader")
                    }
                }
            }
        }
        let up = await first(within: .seconds(60)) { () -> Bool? in
            var ready = 0
            var leader = false
            for await name in events {
                if name == "ready" { ready += 1 } else { leader = true }
                if ready == count && leader { return true }
            }
            return nil
        }
        guard up == true else {
            stop()
            throw RawHTTPError("the nats-server cluster did not come up within a minute (logs in \(folder))")
        }
    }

    /// `nats://127.0.0.1:P1,127.0.0.1:P2,…`
    public var url: String { "nats://" + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    public func kill(_ name: String) {
        guard let node = nodes.first(where: { $0.name == name }) else { return }
        _ = Glibc.kill(node.pid, SIGKILL)
    }

    /// Every node killed and the stores removed.
    public func stop() {
        for node in nodes { _ = Glibc.kill(node.pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
