import Foundation
import SkiffHTTP
import SkiffTestSupport
import Testing

/// Replays what the real faas-cli 0.18.12 sent for each verb against Skiff with real containers, byte for byte
/// apart from the gateway's address, the admin password and the namespace (`Fixtures/`, a copy of
/// `../shared/conformance/faas-cli/transcripts.jsonl`, recorded against a stub gateway), and checks that faas-cli
/// would take each answer as it took the recorded one: a success where it saw a success (for deploys 200 or 202,
/// never 201), the same code where it saw an error.
@Suite("faas-cli conformance replay", .serialized, .enabled(if: RealParts.enabled))
struct FaasCLIConformanceTests {
    struct Recorded: Decodable {
        struct Answer: Decodable {
            var status: Int
            var body: String
        }
        var step: Int
        var command: String
        var scenario: String?
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
        var body_base64: Bool?
        var response: Answer
    }

    static let transcripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/faas-cli-0.18.12-transcripts.jsonl").path

    /// The replay order: secrets first (deploys name them), then deploys, reads, invocations, the other secret,
    /// log and namespace verbs, and removals. The recording removed secret s1 while fn still used it, which faasd
    /// allows and Skiff refuses with 409 (the function could no longer start a replica), so here s1 goes last.
    /// Left out: a following `logs` (it never ends), and an invocation in a namespace without the function.
    static let order = [
        1, 2, 3, 34, 35, 36, 37, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
        29, 30, 32, 33, 39, 40, 41, 42, 43, 44, 50, 51, 53, 54, 55, 56, 57, 38, 45, 46, 47, 58, 59, 60, 61, 63, 64, 66,
        67, 68, 69, 48, 49,
    ]

    @Test func everyRecordedVerbGetsAnAnswerFaasCLIAccepts() async throws {
        guard let text = try? String(contentsOfFile: Self.transcripts, encoding: .utf8) else {
            Issue.record("cannot read \(Self.transcripts)")
            return
        }
        let recorded = try text.split(separator: "\n").map {
            try JSONDecoder().decode(Recorded.self, from: Data($0.utf8))
        }.filter { $0.scenario == nil }
        try await withGateway(withQueue: true) { gw in
            let ns = gw.namespace
            let dev = "\(ns)-dev"
            // The recorded callback went to a closed port; here it comes to a receiver of the test's own.
            let receiver = try await CallbackReceiver()
            defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
            for image in ["docker.io/functions/alpine:latest", "docker.io/functions/figlet:latest"] {
                try await gw.runtime.importImage(image, echoRoot: true)
            }
            let ourAuth =
                "Basic " + Data("\(gw.credentials.user):\(gw.credentials.password)".utf8).base64EncodedString()
            func localise(_ text: String) -> String {
                text.replacingOccurrences(of: "openfaas-fn", with: ns)
                    .replacingOccurrences(of: #""dev""#, with: "\"\(dev)\"")
                    .replacingOccurrences(of: "namespace=dev", with: "namespace=\(dev)")
                    .replacingOccurrences(of: "/system/namespace/dev", with: "/system/namespace/\(dev)")
                    .replacingOccurrences(of: "http://127.0.0.1:9/cb", with: receiver.url)
            }
            var replayed = 0
            for step in Self.order {
                for request in recorded where request.step == step {
                    var headers: [(String, String)] = []
                    for (name, value) in request.headers where !["Host", "Content-Length"].contains(name) {
                        let isRecordedAdmin = name == "Authorization" && value == "Basic YWRtaW46ZHVtbXktcGFzc3dvcmQ="
                        headers.append((name, isRecordedAdmin ? ourAuth : localise(value)))
                    }
                    let body =
                        request.body_base64 == true
                        ? Array(Data(base64Encoded: request.body) ?? Data()) : Array(localise(request.body).utf8)
                    let answer = try await gw.call(
                        HTTPMethod(rawValue: request.method), localise(request.path), body: body, auth: false,
                        headers: headers)
                    replayed += 1
                    let context =
                        "step \(step) `\(request.command)`: \(request.method) \(request.path) → \(answer.status) \(answer.text)"
                    let expected = request.response.status
                    if (200..<300).contains(expected) {
                        #expect((200..<300).contains(answer.status), "\(context)")
                        if request.method == "POST" && request.path == "/system/functions" {
                            #expect(answer.status == 200 || answer.status == 202, "\(context)")
                        }
                    } else {
                        #expect(answer.status == expected, "\(context) (recorded \(expected))")
                    }
                    if request.path.hasPrefix("/async-function/") {
                        // faas-cli prints "Function submitted asynchronously." on 202 only.
                        #expect(answer.status == 202 && answer.headers["X-Call-Id"] != nil, "\(context)")
                    }
                    if request.path.hasPrefix("/function/") && expected == 200 {
                        // The function itself answered (echoing, as the recorded one did), through the proxy.
                        #expect(answer.text == request.response.body || answer.body == body, "\(context)")
                        #expect(answer.headers["X-Served-By"] == "skiff/test", "\(context)")
                    }
                }
            }
            #expect(replayed > 60)
            // Both queued calls were made: the one with a callback called back with fn's echo of its body.
            let callback = try #require(await receiver.callbacks(1).first)
            #expect(callback.headers["X-Function-Status"] == "200" && callback.body == "hello\n", "\(callback)")
            #expect(callback.headers["X-Function-Name"] == "fn.\(ns)")
            let queue = try #require(gw.queue)
            _ = await eventually(timeout: .seconds(60)) { queue.requests.log.summary.messages == 0 }
            #expect(queue.requests.log.summary.messages == 0)
            // The recording never removed fn2; everything else it deployed it also removed.
            let left = try await gw.runtime.runtime.list(namespace: ns).map(\.definition.name)
            #expect(left == ["fn2"])
        }
    }
}
