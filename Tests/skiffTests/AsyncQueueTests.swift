import Foundation
import Glibc
import SkiffAPI
import SkiffHTTP
import SkiffNATSClient
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// Asynchronous calls on a real `skiff serve` with a function in containerd: queued, made by the worker, answered
/// to a callback URL; and none lost when the daemon is killed with calls queued and one in flight.
@Suite("Asynchronous calls on a real daemon", .serialized)
struct AsyncQueueTests {
    private static func enqueue(
        port: Int, _ target: String, callback: String, callID: String, body: String = ""
    ) async throws -> RawHTTP.Answer {
        let request =
            "POST \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Callback-Url: \(callback)\r\n"
            + "X-Call-Id: \(callID)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return try await RawHTTP.exchange(port: port, request)
    }

    @Test(.enabled(if: daemonPartsPresent)) func aQueuedCallIsMadeAndCalledBack() async throws {
        let receiver = try await CallbackReceiver()
        defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            try await admin.deployTestFunction("later", namespace: daemon.namespace)
            // The bare name: the daemon's own namespace (`--namespace`, not openfaas-fn here) is the default, and the
            // call is stored with it.
            let answer = try await Self.enqueue(
                port: port, "/async-function/later/cgi-bin/info?body", callback: receiver.url, callID: "first-call",
                body: "made later")
            #expect(answer.status == 202, "\(answer.text)")
            #expect(answer.text.contains("X-Call-Id: first-call"))
            let callback = try #require(await receiver.callbacks(1, timeout: .seconds(120)).first)
            #expect(callback.body == "made later")
            #expect(callback.headers["X-Function-Status"] == "200")
            #expect(callback.headers["X-Call-Id"] == "first-call")
            #expect(callback.headers["X-Function-Name"] == "later.\(daemon.namespace)")
            // Unknown functions are refused before anything is queued.
            let unknown = try await Self.enqueue(
                port: port, "/async-function/nobody.\(daemon.namespace)", callback: receiver.url, callID: "x")
            #expect(unknown.status == 404)
        }
    }

    /// A device's plain NATS request to the daemon's broker calls the function whose `topic` annotation names the
    /// subject, in its container, and gets its answer: the daemon's triggers reach its broker over a socketpair.
    /// The function has a queue of its own (`com.openfaas.queue`), a stream of the broker's JetStream that the
    /// daemon opens on the first call, with a worker of its own.
    @Test(.enabled(if: daemonPartsPresent)) func aNATSRequestCallsTheFunctionBoundToItsSubject() async throws {
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            let file = try TestImages.file(reference: "docker.io/local/device:1", echoRoot: true)
            defer { unlink(file) }
            _ = try await ChildProcess("/usr/bin/ctr", ["-n", daemon.namespace, "images", "import", file]).runChecked()
            let deployed = try await admin.call(
                "POST", "/system/functions",
                json: #"{"service":"device","image":"local/device:1","namespace":"\#(daemon.namespace)","#
                    + #""annotations":{"topic":"devices.readings","com.openfaas.queue":"devices"}}"#)
            #expect(deployed.status == 200, "\(deployed.text)")
            // Its queue is open once it is deployed, before any call.
            let listed = await eventually(timeout: .seconds(60)) {
                (try? await admin.call("GET", "/system/queue").text.contains(#"{"name":"devices","queued":0}"#)) == true
            }
            #expect(listed)
            let announced = try #require(await daemon.line(containing: "skiff serve: NATS broker on 127.0.0.1:"))
            let afterHost = try #require(announced.range(of: "127.0.0.1:")).upperBound
            let natsPort = try #require(Int(announced[afterHost...].prefix(while: \.isNumber)))
            let device = try await NATSClient.connect(
                to: try #require(SocketAddress(host: "127.0.0.1", port: natsPort)), loop: testGroup.next())
            defer { Task { await device.close() } }
            let answer = try #require(try await device.requestWhenBound("devices.readings", payload: "t=21.5"))
            #expect(String(decoding: answer.payload, as: UTF8.self) == "t=21.5")
            #expect(answer.header("X-Function-Status") == "200")
            let queues = try await admin.call("GET", "/system/queue")
            let expected = #""queues":[{"name":"faas-request","queued":0},{"name":"devices","queued":0}]"#
            #expect(queues.text.contains(expected), "\(queues.text)")
        }
    }

    /// 1,000 calls queued and 100 in flight (the function's limit) when the daemon is killed with SIGKILL: the
    /// calls in flight are held inside the function by a gate that the test opens only after the restart, so none
    /// of them has answered. The restarted daemon makes every call, and each is called back exactly once; the 100
    /// that were in flight are made again (they were started, so they may have been made twice) and counted as
    /// redelivered, and no other call is.
    @Test(.enabled(if: daemonPartsPresent)) func queuedCallsOutliveAKilledDaemon() async throws {
        let receiver = try await CallbackReceiver()
        defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
        let first = try DaemonProcess()
        var second: DaemonProcess?
        do {
            let port = try await first.readyPort()
            let admin = try AdminClient(daemon: first, port: port)
            let function = "gated.\(first.namespace)"
            try await admin.deployTestFunction(
                "gated", namespace: first.namespace, labels: ["com.openfaas.queue.max_inflight": "100"])
            let closed = try await admin.call("GET", "/function/\(function)/cgi-bin/info?gate-close")
            #expect(closed.status == 200 && closed.text.contains("closed"), "\(closed.text)")
            let ids = (1...1000).map { "call-\($0)" }
            for id in ids {
                let answer = try await Self.enqueue(
                    port: port, "/async-function/\(function)/cgi-bin/info?gated", callback: receiver.url, callID: id)
                #expect(answer.status == 202, "\(answer.text)")
            }
            let full = try await eventually(timeout: .seconds(120)) {
                let shown = try await admin.call("GET", "/system/queue")
                let summary = try JSONDecoder().decode(QueueSummary.self, from: Data(shown.body.utf8))
                return summary.functions.first { $0.name == "gated" }?.inFlight == 100
            }
            #expect(full, "never 100 calls in flight")
            kill(first.child.pid, SIGKILL)

            let restarted = try DaemonProcess(continuing: first)
            second = restarted
            let newPort = try await restarted.readyPort()
            let newAdmin = try AdminClient(daemon: restarted, port: newPort)
            let opened = try await newAdmin.call("GET", "/function/\(function)/cgi-bin/info?gate-open")
            #expect(opened.status == 200 && opened.text.contains("\nopen"), "\(opened.text)")
            // The interrupted calls come back after their 30 s ack wait: the bound only ends a failed run.
            let callbacks = await receiver.callbacks(1000, timeout: .seconds(600))
            let called = callbacks.compactMap { $0.headers["X-Call-Id"] }
            #expect(called.count == 1000 && Set(called) == Set(ids), "\(called.count) callbacks")
            #expect(callbacks.allSatisfy { $0.headers["X-Function-Status"] == "200" && $0.body == "passed\n" })
            let shown = try await newAdmin.call("GET", "/system/queue")
            let summary = try JSONDecoder().decode(QueueSummary.self, from: Data(shown.body.utf8))
            let counts = try #require(summary.functions.first { $0.name == "gated" })
            #expect(counts.redelivered == 100 && counts.queued == 0, "\(shown.text)")
            let metrics = try await RawHTTP.exchange(port: newPort, SecurityTests.get("/metrics")).text
            #expect(metrics.contains(#"skiff_queue_redelivered_total{function_name="\#(function)"} 100"#))
        } catch {
            await (second ?? first).cleanUp()
            throw error
        }
        await (second ?? first).cleanUp()
    }

    /// `skiff invoke --async` prints the call id; `skiff queue` shows the function the call went to.
    @Test(.enabled(if: daemonPartsPresent)) func theCLIQueuesACallAndShowsTheQueue() async throws {
        let session = try await ToolchainSession()
        do {
            try await session.login()
            let admin = try AdminClient(daemon: session.daemon, port: session.port)
            try await admin.deployTestFunction("cli", namespace: session.daemon.namespace)
            let callID = try await session.run(
                ["invoke", "--async", "cli", "-n", session.daemon.namespace, "--path", "/cgi-bin/info"], input: "x"
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!callID.isEmpty && !callID.contains(" "), "\(callID)")
            let shown = await eventually(timeout: .seconds(120)) {
                let listed = (try? await session.run(["queue", "--json"])) ?? ""
                guard let summary = try? JSONDecoder().decode(QueueSummary.self, from: Data(listed.utf8)) else {
                    return false
                }
                return summary.functions.contains { $0.name == "cli" && $0.queued == 0 && $0.inFlight == 0 }
            }
            #expect(shown, "the call never showed as done in `skiff queue --json`")
            let table = try await session.run(["queue"])
            #expect(table.contains("Function") && table.contains("cli.\(session.daemon.namespace)"), "\(table)")
        } catch {
            await session.cleanUp()
            throw error
        }
        await session.cleanUp()
    }
}
