import Foundation
import Glibc
import SkiffPOSIX
import Synchronization

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
    ///
    /// A start that fails is tried once more on fresh ports: the ports are found free and then handed to the
    /// nodes, and a test running beside this one can take one in between. A second failure throws, with the end
    /// of every node's output.
    public init(nodes count: Int = 3) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.path) else {
            throw RawHTTPError("\(Self.path) is not installed: run scripts/test (it installs Debian's nats-server)")
        }
        var failure = ""
        for _ in 0..<2 {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-nats-cluster-\(UUID())")
                .path
            switch try await Self.start(count, in: folder) {
            case .success(let nodes):
                self.nodes = nodes
                self.folder = folder
                return
            case .failure(let output):
                failure = output
            }
        }
        throw RawHTTPError(
            "the nats-server cluster did not come up within a minute, twice; its nodes said:\n\(failure)")
    }

    private enum Start {
        case success([Node])
        /// The end of each node's output.
        case failure(String)
    }

    private static func start(_ count: Int, in folder: String) async throws -> Start {
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
        // Each node's log is read to its end (so that its pipe never fills), its last lines kept for a failure; the
        // start waits for every node to be ready and one to say the cluster has a meta leader.
        let output = OutputTail()
        let (events, event) = AsyncStream<String>.makeStream()
        for (node, lines) in zip(nodes, logs) {
            Task {
                for try await line in lines {
                    output.keep(line, of: node.name)
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
            for node in nodes { _ = Glibc.kill(node.pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: folder)
            let said = output.lines.withLock { $0 }
            return .failure(
                nodes.map { "\($0.name): " + (said[$0.name] ?? []).joined(separator: "\n    ") }.joined(separator: "\n")
            )
        }
        return .success(nodes)
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

/// The last lines each node printed, for the message of a start that failed.
private final class OutputTail: Sendable {
    let lines = Mutex<[String: [String]]>([:])

    func keep(_ line: String, of node: String) {
        lines.withLock { $0[node] = Array(($0[node, default: []] + [line]).suffix(15)) }
    }
}
