import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffTestSupport
import Testing

@testable import SkiffQueue

/// Named queues (`com.openfaas.queue`): a function's calls kept apart, with a worker of their own, so that a
/// backlog in the default queue never delays them; refused at deploy when the name cannot be a queue's; found
/// again when the daemon starts.
@Suite("Named queues (in-memory runtime)")
struct NamedQueueTests {
    private static let fast = RetryPolicy(minimum: .milliseconds(40), maximum: .milliseconds(200), maxAttempts: 5)

    /// 1,100 calls to `slow` (one at a time, each held inside the function) fill what the default queue's worker
    /// takes in (one in flight, 1,024 held): a call queued after them for `late` is not reached, while a call
    /// for `urgent`, queued after it in the `express` queue, is made at once. When `slow` lets go, everything is
    /// made, `late` included.
    @Test func aNamedQueuesCallsAreNotHeldBehindTheDefaultQueuesBacklog() async throws {
        try await withInMemoryGateway(queueRetry: Self.fast) { gw in
            let queue = try #require(gw.queue)
            let receiver = try await CallbackReceiver()
            defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
            #expect(try await gw.deploy("slow", labels: #"{"\#(QueueWorker.maxInFlightLabel)":"1"}"#) == 200)
            #expect(try await gw.deploy("late") == 200)
            #expect(try await gw.deploy("urgent", annotations: #"{"com.openfaas.queue":"express"}"#) == 200)
            let backlog = 1 + QueueWorker.maxHeld + 75
            for index in 0..<backlog {
                _ = try await queue.enqueue(QueueRequest(function: "slow", path: "/hold"), callID: "slow-\(index)")
            }
            for name in ["late", "urgent"] {
                var headers = HTTPHeaders()
                headers.add(name: "X-Callback-Url", value: receiver.url)
                let (head, _) = try await testClient.fetch(
                    HTTPClientRequest(
                        method: .post, host: "127.0.0.1", port: gw.port, target: "/async-function/\(name)",
                        headers: headers))
                #expect(head.status.code == 202)
            }
            let first = await receiver.callbacks(1)
            #expect(first.map(\.body) == ["urgent POST / 0"])
            let summary = queue.summary()
            #expect(summary.queues.map(\.name) == ["faas-request", "express"])
            #expect(summary.queues.first { $0.name == "express" }?.queued == 0)
            let late = summary.functions.first { $0.name == "late" }
            #expect(late?.queued == 1 && late?.inFlight == 0, "\(String(describing: late))")
            #expect(summary.functions.first { $0.name == "slow" }?.inFlight == 1)

            gw.release.open()
            let both = await receiver.callbacks(2)
            #expect(both.map(\.body).sorted() == ["late POST / 0", "urgent POST / 0"])
            let drained = await eventually(timeout: .seconds(120)) { queue.requests.log.summary.messages == 0 }
            #expect(drained)
        }
    }

    /// A name that cannot be a queue's is refused with 400 and nothing is deployed; `faas-request` is the default
    /// queue under its own name.
    @Test func aQueueNameThatCannotBeOneIsRefusedAtDeploy() async throws {
        try await withInMemoryGateway(queueRetry: Self.fast) { gw in
            for bad in ["a.b", "a b", "a>", String(repeating: "q", count: 65), "\u{e9}t\u{e9}"] {
                let annotations = #"{"com.openfaas.queue":"\#(bad)"}"#
                let status = try await gw.deploy("fn", annotations: annotations)
                #expect(status == 400, "\(bad)")
            }
            let missing = try await gw.call(.get, "/system/function/fn")
            #expect(missing.status == 404)
            #expect(try await gw.deploy("fn", annotations: #"{"com.openfaas.queue":"faas-request"}"#) == 200)
            #expect(try await gw.call(.post, "/async-function/fn", json: "{}", auth: false).status == 202)
            let queue = try #require(gw.queue)
            #expect(queue.lanes.map(\.label) == ["faas-request"])
        }
    }

    /// The queue a function names is opened when the function is deployed, before its first call (NATS clients can
    /// then publish to its subject), and a queue named by an update too.
    @Test func aFunctionsQueueIsOpenedWhenItIsDeployed() async throws {
        try await withInMemoryGateway(queueRetry: Self.fast) { gw in
            let queue = try #require(gw.queue)
            let deployed = try await gw.deploy("batch", annotations: #"{"com.openfaas.queue":"nightly"}"#)
            #expect(deployed == 200)
            let opened = await eventually(timeout: .seconds(60)) { queue.lanes.map(\.label).contains("nightly") }
            #expect(opened)
            let updated = try await gw.call(
                .put, "/system/functions",
                json: #"{"service":"batch","image":"local/batch:1","annotations":{"com.openfaas.queue":"weekly"}}"#)
            #expect(updated.status == 200)
            let reopened = await eventually(timeout: .seconds(60)) {
                queue.lanes.map(\.label) == ["faas-request", "nightly", "weekly"]
            }
            #expect(reopened, "\(queue.lanes.map(\.label))")
        }
    }

    /// Calls left in a named queue when the daemon stopped are found when it starts again, with their queue.
    @Test func aNamedQueueIsFoundAgainWhenTheDaemonStarts() async throws {
        let streams = FileManager.default.temporaryDirectory.appendingPathComponent("named-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: streams) }
        try await withInMemoryGateway(queueRetry: Self.fast, startWorker: false, queueDirectory: streams) { gw in
            let deployed = try await gw.deploy("batch", annotations: #"{"com.openfaas.queue":"nightly"}"#)
            #expect(deployed == 200)
            for _ in 0..<3 {
                let queued = try await gw.call(.post, "/async-function/batch", json: "{}", auth: false)
                #expect(queued.status == 202)
            }
        }
        let reopened = try AsyncQueue.open(directory: streams)
        #expect(reopened.lanes.map(\.label) == ["faas-request", "nightly"])
        #expect(reopened.summary().queues.map { "\($0.name) \($0.queued)" } == ["faas-request 0", "nightly 3"])
        #expect(reopened.summary().functions.map { "\($0.name) \($0.queued)" } == ["batch 3"])
    }
}
