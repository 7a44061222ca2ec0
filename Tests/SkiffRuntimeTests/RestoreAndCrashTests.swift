import Foundation
import Glibc
import SkiffAPI
import SkiffHTTP
import SkiffPOSIX
import SkiffRuntime
import SkiffTestSupport
import Testing

/// A daemon that dies never takes functions with it, and one that starts again (even after a reboot) brings
/// back exactly what its record says; crashed replicas come back by themselves.
@Suite("restore, reboot and crash restarts", .serialized, .enabled(if: RealParts.enabled))
struct RestoreAndCrashTests {
    @Test func aRestartedDaemonAdoptsRunningReplicasAndARebootIsRecovered() async throws {
        let first = try await RuntimeHarness()
        let ns = first.namespace
        do {
            try await first.importImage("docker.io/local/keep:1")
            try await first.runtime.deploy(
                FunctionDefinition(name: "keep", namespace: ns, image: "local/keep:1"), replicas: 2)
            try await first.runtime.deploy(
                FunctionDefinition(name: "zero", namespace: ns, image: "local/keep:1"), replicas: 0)
            let before = first.runtime.endpoints(name: "keep", namespace: ns).sorted { $0.id < $1.id }
            let tasksBefore = try await first.taskTable()
            first.abandon()

            // Daemon restart: the same replicas, untouched (same ids, addresses and PIDs), serving at once.
            let second = try await first.restarted()
            second.abandon()
            let adopted = second.runtime.endpoints(name: "keep", namespace: ns).sorted { $0.id < $1.id }
            #expect(adopted == before)
            #expect(try await first.taskTable() == tasksBefore)
            for endpoint in adopted { #expect(try await second.get(endpoint, "/index.html").status == 200) }
            let zero = try await second.runtime.status(name: "zero", namespace: ns)
            #expect(zero.replicas == 0 && zero.instances.map(\.phase) == [.idle])

            // Reboot: every task, network namespace and mount is gone; containers and snapshots remain.
            for id in try await first.containerIDs() {
                _ = try? await first.ctr(["tasks", "delete", "--force", id])
            }
            for name in first.networkNamespaces() {
                _ = try await ChildProcess("/usr/sbin/ip", ["netns", "delete", name]).runChecked()
            }
            await removeNetworkRules(bridge: first.bridge, subnet: first.subnet)
            let rootfs = "\(first.stateDirectory)/rootfs/\(ns)"
            for id in try FileManager.default.contentsOfDirectory(atPath: rootfs) {
                _ = try await ChildProcess("/bin/umount", ["\(rootfs)/\(id)"]).runChecked()
            }
            #expect(try await first.runningTasks().isEmpty)
            // And "zero" was removed while the daemon was down: its record is gone, its replica must go too.
            try FileManager.default.removeItem(atPath: "\(first.stateDirectory)/functions/\(ns)/zero.json")

            let third = try await first.restarted()
            let restored = third.runtime.endpoints(name: "keep", namespace: ns).sorted { $0.id < $1.id }
            #expect(restored.map(\.id) == before.map(\.id))
            for endpoint in restored { #expect(try await third.get(endpoint, "/index.html").status == 200) }
            #expect(Set(try await third.runningTasks()) == Set(before.map(\.id)))
            #expect(Set(try await third.containerIDs()) == Set(before.map(\.id)))
            #expect(third.networkNamespaces().count == 2 && third.allocatedAddresses().count == 2)
            await #expect(throws: FunctionRuntimeError.self) {
                try await third.runtime.status(name: "zero", namespace: ns)
            }
            await third.tearDown()
        } catch {
            await first.tearDown()
            throw error
        }
    }

    @Test func stoppingOrKillingTheDaemonNeverStopsFunctions() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/stay:1")
            try await harness.runtime.deploy(
                FunctionDefinition(name: "stay", namespace: ns, image: "local/stay:1"), replicas: 1)
            harness.abandon()
            let tasks = try await harness.taskTable()
            for signal in [SIGTERM, SIGKILL] {
                // The real daemon over the same state, run the way systemd runs the unit (NOTIFY_SOCKET, and
                // WATCHDOG_USEC/WATCHDOG_PID for WatchdogSec=): it adopts the replica, then is stopped or killed.
                let notify = try NotifySocket()
                var process = ChildProcess(
                    "/bin/sh",
                    [
                        "-c", #"export WATCHDOG_PID=$$; exec "$0" "$@" 2>&1"#, skiffBinary(), "serve", "--listen",
                        "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--state-dir", harness.stateDirectory,
                        "--bridge",
                        harness.bridge, "--subnet",
                        harness.subnet, "--namespace", ns, "--log-sink", "files",
                    ])
                var environment = ProcessInfo.processInfo.environment
                environment["NOTIFY_SOCKET"] = notify.path
                environment["WATCHDOG_USEC"] = "400000"
                process.environment = environment
                let daemon = try process.start()
                var output: [String] = []
                var lines = daemon.lines.makeAsyncIterator()
                while let line = try await lines.next() {
                    output.append(line)
                    if line.contains("skiff: ready") { break }
                }
                #expect(output.contains { $0.contains("restored 1 functions") }, "\(output)")
                let port = try #require(
                    output.first { $0.hasPrefix("skiff serve: listening on 127.0.0.1:") }?.split(separator: ":").last
                        .flatMap { Int($0) })
                // READY=1 only once the listener answers and the replica has been reconciled.
                let ready = try await notify.receive(until: { $0.contains { $0.hasPrefix("READY=1") } })
                #expect(ready.contains { $0.hasPrefix("READY=1") })
                let health = try await testClient.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"))
                #expect(health.head.status.code == 200)
                let pings = try await notify.receive(until: { $0.filter { $0 == "WATCHDOG=1" }.count >= 2 })
                #expect(pings.filter { $0 == "WATCHDOG=1" }.count >= 2)
                kill(daemon.pid, signal)
                // The stream ends when the daemon has exited: normally (status 0) after SIGTERM, with an error after
                // SIGKILL.
                do {
                    while try await lines.next() != nil {}
                    #expect(signal == SIGTERM)
                } catch {
                    #expect(signal == SIGKILL)
                }
                if signal == SIGTERM {
                    let stopping = try await notify.receive(until: { $0.contains("STOPPING=1") })
                    #expect(stopping.contains("STOPPING=1"))
                }
                #expect(try await harness.taskTable() == tasks)
                let endpoint = try #require(harness.runtime.endpoints(name: "stay", namespace: ns).first)
                #expect(try await harness.get(endpoint, "/index.html").status == 200)
            }
        }
    }

    @Test func aFunctionWhoseImageVanishedIsStillRestoredAndHealsWhenTheImageReturns() async throws {
        let first = try await RuntimeHarness()
        let ns = first.namespace
        do {
            try await first.importImage("docker.io/local/gone:1")
            try await first.runtime.deploy(
                FunctionDefinition(name: "gone", namespace: ns, image: "local/gone:1"), replicas: 1)
            first.abandon()
            _ = try await first.ctr(["images", "rm", "--sync", "docker.io/local/gone:1"])
            let second = try await first.restarted()
            second.abandon()
            // Still known, still serving from the replica that exists.
            let status = try await second.runtime.status(name: "gone", namespace: ns)
            #expect(status.replicas == 1 && status.availableReplicas == 1)
            // New replicas need the image: a clear failure, then success once it is back.
            await #expect(throws: FunctionRuntimeError.self) {
                try await second.runtime.scale(name: "gone", namespace: ns, replicas: 2)
            }
            try await second.importImage("docker.io/local/gone:1")
            try await second.runtime.scale(name: "gone", namespace: ns, replicas: 2)
            #expect(second.runtime.endpoints(name: "gone", namespace: ns).count == 2)
            await second.tearDown()
        } catch {
            await first.tearDown()
            throw error
        }
    }

    @Test func anotherInstanceLeavesThisInstancesReplicasAlone() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/mine:1")
            try await harness.runtime.deploy(
                FunctionDefinition(name: "mine", namespace: ns, image: "local/mine:1"), replicas: 1)
            let tasks = try await harness.runningTasks()
            // A second instance (own state, bridge and subnet) in the same containerd namespace.
            let other = try await RuntimeHarness(namespace: ns)
            other.abandon()
            #expect(try await other.runtime.list(namespace: ns).isEmpty)
            #expect(try await harness.runningTasks() == tasks)
            _ = try await ChildProcess("/usr/sbin/ip", ["link", "delete", other.bridge]).run()
            await removeNetworkRules(bridge: other.bridge, subnet: other.subnet)
            try? FileManager.default.removeItem(atPath: other.stateDirectory)
        }
    }

    @Test func aCrashedReplicaIsRestartedWithoutARequestAndTheCrashIsLogged() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/crashy:1")
            try await runtime.deploy(
                FunctionDefinition(name: "crashy", namespace: ns, image: "local/crashy:1"), replicas: 1)
            let endpoint = try #require(runtime.endpoints(name: "crashy", namespace: ns).first)
            _ = try? await harness.info(endpoint, "crash")
            let recovered = try await eventually {
                let status = try await runtime.status(name: "crashy", namespace: ns)
                return status.instances.first?.restarts == 1 && status.availableReplicas == 1
            }
            #expect(recovered)
            let status = try await runtime.status(name: "crashy", namespace: ns)
            #expect(status.instances.first?.lastExit?.status == 7)
            #expect(try await harness.get(endpoint, "/index.html").status == 200)
            var lines: [FunctionLogEntry] = []
            for try await entry in try await runtime.logs(LogQuery(name: "crashy", namespace: ns)) {
                lines.append(entry)
            }
            #expect(lines.contains { $0.stream == "skiff" && $0.text.contains("exited with status 7") })
            #expect(lines.filter { $0.text == "booting crashy" }.count == 2)
        }
    }

    @Test func logsAreReadBackByTailSinceAndFollow() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/talk:1")
            try await runtime.deploy(
                FunctionDefinition(name: "talk", namespace: ns, image: "local/talk:1"), replicas: 1)
            let endpoint = try #require(runtime.endpoints(name: "talk", namespace: ns).first)
            #expect(try await harness.info(endpoint, "log=first") == "logged\n")
            #expect(
                try await eventually {
                    try await self.texts(runtime, LogQuery(name: "talk", namespace: ns)).contains("first")
                })
            let all = try await texts(runtime, LogQuery(name: "talk", namespace: ns))
            #expect(all.first == "booting talk")
            #expect(try await texts(runtime, LogQuery(name: "talk", namespace: ns, tail: 1)) == ["first"])
            #expect(
                try await texts(runtime, LogQuery(name: "talk", namespace: ns, since: Date().addingTimeInterval(60)))
                    .isEmpty)

            // Follow: the history, then a line written afterwards arrives on the open stream.
            let stream = try await runtime.logs(LogQuery(name: "talk", namespace: ns, tail: 1, follow: true))
            var iterator = stream.makeAsyncIterator()
            #expect(try await iterator.next()?.text == "first")
            #expect(try await harness.info(endpoint, "log=second") == "logged\n")
            let next = try await iterator.next()
            #expect(next?.text == "second" && next?.instance == endpoint.id && next?.stream == "stdout")
        }
    }

    private func texts(_ runtime: ContainerdRuntime, _ query: LogQuery) async throws -> [String] {
        var texts: [String] = []
        for try await entry in try await runtime.logs(query) { texts.append(entry.text) }
        return texts
    }
}
