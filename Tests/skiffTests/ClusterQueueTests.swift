import Foundation
import Glibc
import SkiffAPI
import SkiffNATSClient
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// The queue on an external NATS cluster (`--queue nats://…`): three Debian nats-server nodes with JetStream on
/// loopback, a real daemon whose worker is a client of theirs, and a function in containerd.
@Suite("The queue on a NATS cluster", .serialized)
struct ClusterQueueTests {
    static let enabled =
        daemonPartsPresent
        && (FileManager.default.isExecutableFile(atPath: NATSCluster.path)
            || RealParts.isCI)

    /// 5,000 calls queued while the stream's leader is killed with SIGKILL half-way: every call is accepted (202,
    /// the cluster having stored it), every call is made (the function records each call id it gets), and a
    /// call made more than once was counted as redelivered, as a possible duplicate.
    @Test(.enabled(if: enabled)) func callsOutliveTheStreamLeadersDeath() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        try await withDaemon(arguments: ["--queue", cluster.url]) { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            let function = "tally.\(daemon.namespace)"
            try await admin.deployTestFunction(
                "tally", namespace: daemon.namespace, labels: ["com.openfaas.queue.max_inflight": "8"])

            let leader = try #require(try await Self.streamLeader(cluster))
            let total = 5000
            let ids = (1...total).map { "call-\($0)" }
            let accepted = Counter()
            let refused = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<16 {
                    group.addTask {
                        for index in stride(from: lane, to: total, by: 16) {
                            let request =
                                "POST /async-function/\(function)/cgi-bin/info?record HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                + "Connection: close\r\nX-Call-Id: \(ids[index])\r\nContent-Length: 0\r\n\r\n"
                            let answer = try await RawHTTP.exchange(port: port, request)
                            if answer.status == 202 { accepted.add() } else { refused.add(answer.text) }
                        }
                    }
                }
                // Half-way through, the stream's leader dies.
                group.addTask {
                    _ = await eventually(timeout: .seconds(600)) { accepted.count >= total / 2 }
                    cluster.kill(leader)
                }
                try await group.waitForAll()
            }
            #expect(accepted.count == total, "refused: \(refused.texts.prefix(3))")

            // Every call made: the function's record holds every id (the bound only ends a failed run; calls whose
            // ack was lost come back after the 30 s ack wait).
            var made: [String: Int] = [:]
            let complete = try await eventually(timeout: .seconds(600)) {
                let answer = try await admin.call("GET", "/function/\(function)/cgi-bin/info?recorded")
                made = [:]
                for line in answer.body.split(separator: "\n") { made[String(line), default: 0] += 1 }
                return Set(made.keys).isSuperset(of: ids)
            }
            let missing = Set(ids).subtracting(made.keys)
            let shown = try await admin.call("GET", "/system/queue").text
            #expect(complete, "\(missing.count) calls never made, among them \(missing.sorted().prefix(5)); \(shown)")
            // Nothing left in the queue, then the duplicates against what the worker counted.
            let drained = try await eventually(timeout: .seconds(300)) {
                let summary = try JSONDecoder().decode(
                    QueueSummary.self, from: Data(try await admin.call("GET", "/system/queue").body.utf8))
                return summary.queues.allSatisfy { $0.queued == 0 }
                    && summary.functions.allSatisfy { $0.inFlight == 0 }
            }
            #expect(drained)
            let answer = try await admin.call("GET", "/function/\(function)/cgi-bin/info?recorded")
            made = [:]
            for line in answer.body.split(separator: "\n") { made[String(line), default: 0] += 1 }
            let duplicates = made.values.reduce(0) { $0 + $1 - 1 }
            let metrics = try await RawHTTP.exchange(port: port, SecurityTests.get("/metrics")).text
            let redelivered = Self.value(
                of: #"skiff_queue_redelivered_total{function_name="\#(function)"}"#, in: metrics)
            print(
                "cluster queue: \(total) calls, leader \(leader) killed, \(duplicates) made twice, \(redelivered) redelivered"
            )
            #expect(duplicates <= redelivered, "\(duplicates) calls made twice, \(redelivered) counted as redelivered")
            #expect(Set(made.keys).subtracting(ids).isEmpty, "calls made that were never queued")
            // The stream lives on: another node leads it now.
            let successor = try await Self.streamLeader(cluster, askingNot: leader)
            #expect(successor != nil && successor != leader, "the stream is led by \(successor ?? "nobody")")
        }
    }

    /// The node leading the `faas-request` stream's replicas (`cluster.leader` of its info).
    static func streamLeader(_ cluster: NATSCluster, askingNot dead: String? = nil) async throws -> String? {
        let node = try #require(cluster.nodes.first { $0.name != dead })
        let client = try await NATSClient.connect(
            to: try #require(SocketAddress(host: "127.0.0.1", port: node.port)), loop: testGroup.next())
        defer { Task { await client.close() } }
        let reply = try await client.request(
            "$JS.API.STREAM.INFO.faas-request", payload: [], timeout: .seconds(10))
        let info = try JSONSerialization.jsonObject(with: Data(try #require(reply).payload)) as? [String: Any]
        return (info?["cluster"] as? [String: Any])?["leader"] as? String
    }

    /// The value of a `/metrics` line that starts with `series`; 0 when there is none.
    static func value(of series: String, in metrics: String) -> Int {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Int(Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return 0
    }
}

private final class Counter: Sendable {
    private let state = Mutex<(count: Int, texts: [String])>((0, []))
    func add(_ text: String? = nil) {
        state.withLock {
            $0.count += 1
            if let text, $0.texts.count < 10 { $0.texts.append(text) }
        }
    }
    var count: Int { state.withLock { $0.count } }
    var texts: [String] { state.withLock { $0.texts } }
}
