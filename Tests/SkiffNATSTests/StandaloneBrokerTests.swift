import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// `skiff nats-server`, as client libraries' harnesses start "nats-server": the same flags, the same start-up
/// lines, the monitor they poll, lame-duck mode on SIGUSR2.
@Suite("skiff nats-server, a drop-in for nats-server")
struct StandaloneBrokerTests {
    /// The skiff binary under the name `nats-server`, as a harness would find it on its PATH.
    private func linkedAsNATSServer() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-nats-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let link = "\(folder)/nats-server"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: skiffBinary())
        return link
    }

    private func get(_ port: Int, _ path: String) async throws -> (status: Int, json: [String: Any]) {
        let response = try await testClient.fetch(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(30))
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        return (Int(response.head.status.code), json)
    }

    @Test func itStartsAsHarnessesStartNatsServerAndCountsWhatPasses() async throws {
        let broker = try await ExternalBroker(
            executable: try linkedAsNATSServer(), name: "skiff nats-server", arguments: ["-m", "-1", "--auth", "tok"])
        defer { Task { await broker.stop() } }
        let monitor = try #require(broker.monitorPort)
        let before = try await get(monitor, "/varz")
        #expect(before.status == 200 && (before.json["server_id"] as? String)?.count == 56)
        #expect(try await get(monitor, "/healthz").json["status"] as? String == "ok")

        let client = try RawClient(broker)
        defer { client.close() }
        client.send(#"CONNECT {"auth_token":"tok","verbose":false}\#r\#nSUB a 1\#r\#nPUB a 2\#r\#nhi\#r\#nPING\#r\#n"#)
        let answer = try await client.read(until: "PONG\r\n")
        #expect(answer.contains(#""auth_required":true"#) && withoutInfo(answer) == "MSG a 1 2\r\nhi\r\nPONG\r\n")

        let varz = try await get(monitor, "/varz").json
        #expect(varz["in_msgs"] as? Int == 1 && varz["out_msgs"] as? Int == 1 && varz["connections"] as? Int == 1)
        #expect(varz["in_bytes"] as? Int == 2 && varz["out_bytes"] as? Int == "MSG a 1 2\r\nhi\r\n".utf8.count)
        let connz = try await get(monitor, "/connz").json
        let connections = try #require(connz["connections"] as? [[String: Any]])
        #expect(connz["num_connections"] as? Int == 1 && connections.first?["subscriptions"] as? Int == 1)
    }

    @Test(.enabled(if: NATSPyCompatibilityTests.enabled)) func natsPyUsesItAsItUsesNatsServer() async throws {
        let broker = try await ExternalBroker(
            executable: try linkedAsNATSServer(), name: "skiff nats-server", arguments: [])
        defer { Task { await broker.stop() } }
        let python = try #require(NATSPyCompatibilityTests.python)
        let outcome = try await ChildProcess(
            python, [NATSPyCompatibilityTests.script, "nats://127.0.0.1:\(broker.port)", "request"],
            timeout: .seconds(60)
        ).run()
        #expect(outcome.succeeded && outcome.outputText.contains(#""one": "PING""#), "\(outcome.errorText)")
    }

    @Test func onSIGUSR2ClientsAreToldThenClosedAndTheServerExits() async throws {
        let conf = FileManager.default.temporaryDirectory.appendingPathComponent("ldm-\(UUID()).conf").path
        try "lame_duck_grace_period: \"1s\"\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let broker = try await ExternalBroker(
            executable: try linkedAsNATSServer(), name: "skiff nats-server", arguments: ["-c", conf])
        defer { Task { await broker.stop() } }
        let client = try RawClient(broker)
        defer { client.close() }
        client.send(#"CONNECT {"verbose":false,"protocol":1}\#r\#nPING\#r\#n"#)
        _ = try await client.read(until: "PONG\r\n")
        kill(broker.pid, SIGUSR2)
        let (text, closed) = try await client.readToClose()
        #expect(text.hasPrefix("INFO {") && text.contains(#""ldm":true"#) && closed)
        var log = broker.log.makeAsyncIterator()
        var exiting = false
        while let line = await log.next() {
            if line.contains("Server Exiting") { exiting = true }
        }
        #expect(exiting)
    }
}

/// What a stream acknowledged survives the broker's death: `kill -9` after 50 acknowledged publishes, then a
/// new broker on the same store finds all 50 for a consumer, on Skiff as on nats-server. And so does what a
/// consumer had acknowledged, in a stream that keeps acknowledged messages.
@Suite("JetStream through a kill -9")
struct JetStreamKillTests {
    private func survive(
        _ before: String, _ after: String,
        _ start: (String, Int?) async throws -> ExternalBroker
    ) async throws -> (String, String, errors: String) {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("js-kill-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: store) }
        let first = try await start(store, nil)
        let port = first.port
        let python = try #require(NATSPyCompatibilityTests.python)
        let fill = try await ChildProcess(
            python, [NATSPyCompatibilityTests.script, "nats://127.0.0.1:\(port)", before], timeout: .seconds(60)
        ).run()
        await first.stop()
        let second = try await start(store, port)
        defer { Task { await second.stop() } }
        let take = try await ChildProcess(
            python, [NATSPyCompatibilityTests.script, "nats://127.0.0.1:\(port)", after], timeout: .seconds(120)
        ).run()
        return (
            fill.outputText.trimmingCharacters(in: .whitespacesAndNewlines),
            take.outputText.trimmingCharacters(in: .whitespacesAndNewlines),
            fill.errorText + take.errorText
        )
    }

    /// Each row: what a client does before the `kill -9`, what it does after, and what it must see each time.
    /// The first: 50 acknowledged publishes to a work queue, all taken afterwards. The second: 20 of 50 kept
    /// messages read and acknowledged through a durable consumer; afterwards it reads exactly the other 30
    /// (before its state was kept, Skiff delivered all 50 again).
    ///
    /// nats-server writes a consumer's acknowledgements behind a short delay, so after a `kill -9` it may deliver
    /// some acknowledged messages again (a run here saw 42 of 50). Skiff keeps an acknowledgement before it
    /// answers the ack, so it is held to exactly the 30; the reference only to losing nothing it had not been
    /// acknowledged for. The third field of each row is what the reference must show after the restart.
    @Test(
        .enabled(if: NATSPyCompatibilityTests.enabled),
        arguments: [
            (
                "js_fill", "js_take", #"{"acknowledged": true}"#, #"{"all": true, "left": 0, "taken": 50}"#,
                #"{"all": true, "left": 0, "taken": 50}"#
            ),
            (
                "js_read_some", "js_read_rest", #"{"read": true}"#,
                #"{"count": 30, "kept": 50, "none_lost": true, "rest": true}"#, #""kept": 50, "none_lost": true"#
            ),
        ])
    func acknowledgedWorkOutlivesTheBroker(
        before: String, after: String, sawBefore: String, sawAfter: String, referenceSawAfter: String
    ) async throws {
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-nats-\(UUID())").path
        try FileManager.default.createDirectory(atPath: link, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(link)/nats-server", withDestinationPath: skiffBinary())
        let onSkiff = try await survive(before, after) { store, port in
            try await ExternalBroker(
                executable: "\(link)/nats-server", name: "skiff nats-server",
                arguments: ["-js", "-sd", store] + (port.map { ["-p", "\($0)"] } ?? []))
        }
        #expect(onSkiff.0 == sawBefore, "\(onSkiff.errors)")
        #expect(onSkiff.1 == sawAfter, "\(onSkiff.errors)")
        guard ReferenceBroker.enabled else { return }
        let onReference = try await survive(before, after) { store, port in
            try await ReferenceBroker.start(arguments: ["-js", "-sd", store] + (port.map { ["-p", "\($0)"] } ?? []))
        }
        #expect(onReference.0 == sawBefore, "nats-server: \(onReference.errors)")
        #expect(onReference.1.contains(referenceSawAfter), "nats-server: \(onReference.1) \(onReference.errors)")
    }
}
