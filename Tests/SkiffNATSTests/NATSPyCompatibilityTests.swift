import Foundation
import SkiffNATS
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// nats-py 2.16 (the real client, from PyPI, in the virtual environment scripts/test makes) against Skiff's
/// broker and against nats-server: every scenario must print the same observations for both, and those written
/// here.
@Suite("nats-py against Skiff's broker and nats-server")
struct NATSPyCompatibilityTests {
    static let python: String? = {
        let candidates = [
            ProcessInfo.processInfo.environment["SKIFF_TEST_NATS_PY"],
            "\(ProcessInfo.processInfo.environment["SKIFF_CACHE"] ?? "/var/cache/skiff")/nats-py-2.16.0/bin/python",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
    /// Run when nats-py is there, and always under CI (where its absence must fail).
    static let enabled = python != nil || RealParts.isCI

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/natspy_scenarios.py").path

    /// What the scenario printed on its last line.
    private func run(_ scenario: String, on broker: any TestBroker, options: String = "{}") async throws -> String {
        let python = try #require(Self.python, "nats-py is not installed: run scripts/test (scripts/nats-py makes it)")
        let outcome = try await ChildProcess(
            python, [Self.script, "nats://127.0.0.1:\(broker.port)", scenario, options], timeout: .seconds(60)
        ).run()
        #expect(outcome.succeeded, "\(broker.name) \(scenario): \(outcome.errorText)")
        return outcome.outputText.split(separator: "\n").last.map(String.init) ?? ""
    }

    @Test(
        .enabled(if: enabled),
        arguments: [
            (
                "pubsub",
                #"{"received": [["greet.a", "hi", "greet.*"], ["greet.a", "hi", "greet.>"], ["greet.a.b", "deep", "greet.>"], "#
                    + #"["greet.b", "there", "greet.*"], ["greet.b", "there", "greet.>"]]}"#
            ),
            ("queue", #"{"even": true, "plain": 3000, "queue_total": 3000}"#),
            (
                "request",
                #"{"many": ["# + (0..<50).map { "\"M\($0)\"" }.joined(separator: ", ") + #"], "one": "PING"}"#
            ),
            ("headers", #"{"data": "body", "headers": {"Trace-Id": "abc", "X-Thing": "1"}}"#),
            ("no_responders", #"{"outcome": "no responders"}"#),
            ("drain", #"{"closed": true, "handled": 200}"#),
        ])
    func aScenarioObservesTheSameOnBoth(_ scenario: String, _ expected: String) async throws {
        try await onBothBrokers { broker in
            let observed = try await run(scenario, on: broker)
            #expect(observed == expected, "\(broker.name)")
        }
    }

    @Test(.enabled(if: enabled)) func authorizationWithATokenAndAUser() async throws {
        let refused = #"{"authorization_violation": true, "connected": false}"#
        try await onBothBrokers(skiff: requiring(token: "s3cret"), reference: ["--auth", "s3cret"]) { broker in
            let good = try await run("auth", on: broker, options: #"{"token": "s3cret"}"#)
            let bad = try await run("auth", on: broker, options: #"{"token": "guess"}"#)
            #expect(good == #"{"connected": true}"# && bad == refused, "\(broker.name)")
        }
        try await onBothBrokers(
            skiff: requiring(user: "lab", password: "pw"), reference: ["--user", "lab", "--pass", "pw"]
        ) { broker in
            let good = try await run("auth", on: broker, options: #"{"user": "lab", "password": "pw"}"#)
            let bad = try await run("auth", on: broker, options: #"{"user": "lab", "password": "no"}"#)
            #expect(good == #"{"connected": true}"# && bad == refused, "\(broker.name)")
        }
    }

    /// The broker goes away under a connected client and comes back on the same port (a daemon restart): nats-py
    /// reconnects by itself, subscribes again, and what is published afterwards arrives.
    @Test(.enabled(if: enabled)) func aClientReconnectsWhenItsBrokerComesBack() async throws {
        let expected = #"{"received": "again", "reconnected": true}"#
        let skiff = try await SkiffBroker()
        let skiffPort = skiff.port
        let onSkiff = try await reconnecting(port: skiffPort) {
            await skiff.stop()
            let address = try #require(SocketAddress(host: "127.0.0.1", port: skiffPort))
            return try await SkiffBroker { $0.addresses = [address] }
        }
        #expect(onSkiff == expected, "skiff")
        guard ReferenceBroker.enabled else { return }
        let reference = try await ReferenceBroker.start()
        let referencePort = reference.port
        let onReference = try await reconnecting(port: referencePort) {
            await reference.stop()
            return try await ReferenceBroker.start(arguments: ["-p", "\(referencePort)"])
        }
        #expect(onReference == expected, "nats-server")
    }

    /// Starts the reconnect scenario against `port`, and once the client is ready, `restart`s the broker.
    private func reconnecting(port: Int, restart: () async throws -> any TestBroker) async throws -> String {
        let python = try #require(Self.python, "nats-py is not installed: run scripts/test (scripts/nats-py makes it)")
        let client = try ChildProcess(python, [Self.script, "nats://127.0.0.1:\(port)", "reconnect"]).start()
        var lines = client.lines.makeAsyncIterator()
        guard try await lines.next() == "ready" else { return "the client never got ready" }
        let restarted = try await restart()
        defer { Task { await restarted.stop() } }
        var last = ""
        while let line = try await lines.next() { last = line }
        return last
    }

    /// JetStream's streams through nats-py: a work-queue stream made, publishes acknowledged with their sequence
    /// (a repeated `Nats-Msg-Id` a duplicate), the stream found by subject, a publish no stream takes refused.
    @Test(.enabled(if: enabled)) func streamsAsNatsPyUsesThem() async throws {
        let expected =
            #"{"acks": [["Q", 1, false], ["Q", 1, true], ["Q", 2, false]], "created": ["Q", "workqueue", ["q.>"]], "#
            + #""found": "Q", "last_seq": 2, "messages": 2, "nowhere": "no stream"}"#
        try await onBothBrokersWithJetStream { broker in
            let observed = try await run("jetstream_streams", on: broker)
            #expect(observed == expected, "\(broker.name)")
        }
    }

    /// A work queue's durable pull consumer through nats-py: fetch and ack; nak, redelivery with its count up,
    /// term; progress and a synchronous ack; an empty fetch; then the stream empty. And redelivery after
    /// `ack_wait` until `max_deliver`, the message kept. And the statuses a pull's inbox gets (404, 100, 409 for
    /// `max_waiting` and for a deleted consumer, 408), `+NXT`, and the advisory of a `+TERM`. The waits are the brokers' own (one-second ack wait);
    /// the test's bounds only end a failed run.
    @Test(
        .enabled(if: enabled),
        arguments: [
            (
                "jetstream_work_queue",
                #"{"ack_pending": 0, "empty": true, "messages": 0, "seen": [["job0", 1, 1], ["job1", 1, 2], "#
                    + #"["job1", 2, 2], ["job2", 1, 3]]}"#
            ),
            ("jetstream_redelivery", #"{"deliveries": [1, 2], "kept": 1, "third": "none"}"#),
            (
                "jetstream_statuses",
                #"{"after_nxt": "two", "deleted": ["409", "Consumer Deleted"], "expired": ["408", "Request Timeout"], "#
                    + #""first": "one", "full": ["409", "Exceeded MaxWaiting"], "heartbeat": ["100", "Idle Heartbeat"], "#
                    + #""left": 0, "nothing": ["404", "No Messages"], "#
                    + #""terminated": ["io.nats.jetstream.advisory.v1.terminated", "ST", "w", 2]}"#
            ),
        ])
    func pullConsumersAsNatsPyUsesThem(_ scenario: String, _ expected: String) async throws {
        try await onBothBrokersWithJetStream { broker in
            let observed = try await run(scenario, on: broker)
            #expect(observed == expected, "\(broker.name)")
        }
    }
}
