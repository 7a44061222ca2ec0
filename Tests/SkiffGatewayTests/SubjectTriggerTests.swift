import Foundation
import SkiffHTTP
import SkiffLog
import SkiffNATS
import SkiffNATSClient
import SkiffPOSIX
import SkiffQueue
import SkiffTestSupport
import Testing

/// Functions called by NATS messages: Skiff's broker on loopback, the triggers speaking to it over a socketpair as
/// the daemon's do, the queue and its worker, and a test client publishing as a device would.
@Suite("Subject triggers")
struct SubjectTriggerTests {
    /// The in-memory gateway with its queue, a broker, the triggers and a worker that publishes replies; a client
    /// connected to the broker; all torn down afterwards.
    private func withTriggers(
        _ body: (InMemoryGateway, AsyncQueue, NATSClient) async throws -> Void
    ) async throws {
        try await withInMemoryGateway(queueRetry: RetryPolicy(), startWorker: false) { gw in
            let queue = try #require(gw.queue)
            let broker = NATSServer(
                configuration: NATSConfiguration(addresses: [try #require(SocketAddress(host: "127.0.0.1", port: 0))]),
                group: testGroup)
            let port = try await broker.start()[0].port
            let logger = Logger(label: "triggers", handler: MemoryLogHandler())
            let triggers = SubjectTriggers(
                queue: queue, runtime: gw.runtime, invoker: gw.gateway.invoker,
                connect: {
                    let (brokerEnd, clientEnd) = try Socket.pair()
                    _ = broker.serveConnected(brokerEnd)
                    return try await NATSClient.adopt(socket: clientEnd, loop: testGroup.next())
                }, logger: logger)
            var settings = QueueWorker.Settings()
            settings.replies = triggers
            let worker = QueueWorker(
                queue: queue, invoker: gw.gateway.invoker, runtime: gw.runtime, settings: settings, logger: logger)
            let services = [Task { await triggers.run() }, Task { await worker.run() }]
            let device = try await NATSClient.connect(
                to: try #require(SocketAddress(host: "127.0.0.1", port: port)), loop: testGroup.next())
            defer {
                for service in services { service.cancel() }
                Task {
                    await device.close()
                    await broker.shutdown()
                }
            }
            try await body(gw, queue, device)
        }
    }

    private func deploy(_ gw: InMemoryGateway, _ name: String, annotations: String) async throws -> Int {
        try await gw.call(
            .post, "/system/functions",
            json: #"{"service":"\#(name)","image":"local/\#(name):1","annotations":\#(annotations)}"#
        ).status
    }

    @Test func aNATSRequestToATopicIsAQueuedCallAnsweredOnItsReplySubject() async throws {
        try await withTriggers { gw, queue, device in
            #expect(try await deploy(gw, "temp", annotations: #"{"topic":"sensors.temp, sensors.hum"}"#) == 200)
            let answer = try #require(
                try await device.requestWhenBound(
                    "sensors.temp", headers: [NATSHeader("X-Test-Room", "kitchen")], payload: "21.5"))
            #expect(
                String(decoding: answer.payload, as: UTF8.self)
                    == "temp POST / 4 X-Test-Room=kitchen X-Topic=sensors.temp")
            #expect(answer.header("X-Function-Status") == "200" && answer.header("X-Call-Id") != nil)
            // It went through the queue: stored, then acknowledged, and counted as a queued call.
            #expect(queue.requests.log.summary.lastSequence >= 1)
            let metrics = try await gw.call(.get, "/metrics", auth: false).text
            #expect(metrics.contains(#"skiff_queue_calls_total{code="200",function_name="temp.openfaas-fn"}"#))

            // A plain publish (no reply subject) on the other topic is a call too.
            let before = gw.connectorCalls.times.withLock { $0.count }
            try await device.publish("sensors.hum", payload: Array("40".utf8))
            let called = await eventually(timeout: .seconds(60)) {
                gw.connectorCalls.times.withLock { $0.count } == before + 1
            }
            #expect(called)
        }
    }

    @Test func fireAndForgetCallsWithoutTheQueue() async throws {
        try await withTriggers { gw, queue, device in
            let annotations = #"{"topic":"direct.>","com.skiff.topic.delivery":"fire-and-forget"}"#
            #expect(try await deploy(gw, "direct", annotations: annotations) == 200)
            let answer = try #require(try await device.requestWhenBound("direct.a.b", payload: "x"))
            #expect(String(decoding: answer.payload, as: UTF8.self) == "direct POST / 1 X-Topic=direct.a.b")
            #expect(queue.requests.log.summary.lastSequence == 0)
        }
    }

    /// Removing the function removes its subscription (a request then meets no responders); deploying it again
    /// binds it again.
    @Test func bindingsFollowRemovalsAndDeploys() async throws {
        try await withTriggers { gw, _, device in
            #expect(try await deploy(gw, "tick", annotations: #"{"topic":"ticks"}"#) == 200)
            #expect(try await device.requestWhenBound("ticks", payload: "1")?.header("X-Function-Status") == "200")
            #expect(try await gw.call(.delete, "/system/functions", json: #"{"functionName":"tick"}"#).status == 200)
            let unbound = try await eventually(timeout: .seconds(60)) {
                let answer = try await device.request("ticks", payload: [], timeout: .seconds(60))
                return answer?.status == 503
            }
            #expect(unbound)
            #expect(try await deploy(gw, "tick", annotations: #"{"topic":"ticks"}"#) == 200)
            #expect(try await device.requestWhenBound("ticks", payload: "1")?.header("X-Function-Status") == "200")
        }
    }

    @Test func unusableTopicsAreRefusedAtDeploy() async throws {
        try await withInMemoryGateway { gw in
            for annotations in [
                #"{"topic":"a b"}"#, #"{"topic":"a..b"}"#, #"{"topic":"a.>.b"}"#,
                #"{"topic":"ok","com.skiff.topic.delivery":"sometimes"}"#,
            ] {
                let refused = try await gw.call(
                    .post, "/system/functions",
                    json: #"{"service":"bad","image":"local/bad:1","annotations":\#(annotations)}"#)
                #expect(refused.status == 400 && refused.text.contains("annotations"), "\(refused.text)")
            }
            #expect(try await gw.call(.get, "/system/function/bad").status == 404)
        }
    }
}
