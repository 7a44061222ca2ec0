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
}
