import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

@testable import SkiffRuntime

@Suite("rollouts, stops and namespaces", .serialized, .enabled(if: RealParts.enabled))
struct RolloutTests {
    /// Sampled while an update runs: the function never has zero ready replicas.
    @Test func anUpdateNeverLeavesTheFunctionWithoutReadyReplicas() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/roll:1")
            try await runtime.deploy(
                FunctionDefinition(name: "roll", namespace: ns, image: "local/roll:1"), replicas: 2)
            let (samples, fewest) = try await fewestReady("roll", ns, runtime) {
                try await runtime.update(
                    FunctionDefinition(name: "roll", namespace: ns, image: "local/roll:1", envVars: ["V": "2"]))
            }
            #expect(samples > 10)
            #expect(fewest >= 1)
            let after = runtime.endpoints(name: "roll", namespace: ns)
            #expect(after.count == 2)
            for endpoint in after { #expect(try await harness.info(endpoint, "env").contains("V=2")) }
        }
    }

    /// An update whose new generation has one replica that crashes at once and one that is waited for and never
    /// gets ready: the old generation stays in rotation the whole time (the crash once published the new, empty
    /// generation for as long as the other new replica was waited for), and stays after the update fails. The
    /// waited-for replica gives up on its own after a while, so the deploy timeout can be generous: a busy
    /// machine once took more than the 3 s it used to be to start the first, healthy generation.
    @Test func aNewReplicaThatCrashesNeverTakesTheOldOnesOutOfRotation() async throws {
        try await withRuntime(deployTimeout: .seconds(120)) { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/keep:1")
            // host-local hands out consecutive addresses: of two new replicas, one has an even last octet (it
            // exits 7 at once) and one an odd one (it never listens, and exits 3 after 5 s).
            let split = "case $(ip -4 -o addr show eth0) in *[02468]/[0-9]*) exit 7 ;; esac; sleep 5; exit 3"
            try await harness.importImage("docker.io/local/crash:1", command: ["/bin/sh", "-c", split])
            try await runtime.deploy(
                FunctionDefinition(name: "keep", namespace: ns, image: "local/keep:1"), replicas: 2)
            let before = runtime.endpoints(name: "keep", namespace: ns).map(\.id).sorted()
            let (_, fewest) = try await fewestReady("keep", ns, runtime) {
                await #expect(throws: FunctionRuntimeError.self) {
                    try await runtime.update(FunctionDefinition(name: "keep", namespace: ns, image: "local/crash:1"))
                }
            }
            #expect(fewest == 2)
            #expect(runtime.endpoints(name: "keep", namespace: ns).map(\.id).sorted() == before)
        }
    }

    /// A scale to 0 (or a remove) does not queue behind a scale whose replicas never get ready: it supersedes
    /// it, and the older request answers 409 instead of holding the function for the whole deploy timeout.
    @Test func aNewerChangeSupersedesAConvergenceInProgress() async throws {
        try await withRuntime(deployTimeout: .seconds(120)) { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/good:1")
            try await harness.importImage("docker.io/local/mute:1", command: ["/bin/sh", "-c", "exec sleep 600"])
            try await runtime.deploy(
                FunctionDefinition(name: "mute", namespace: ns, image: "local/good:1"), replicas: 1)
            // The update keeps the old replica serving while new ones that never listen are waited for.
            let update = Task {
                try await runtime.update(FunctionDefinition(name: "mute", namespace: ns, image: "local/mute:1"))
            }
            let waiting = await eventually(timeout: .seconds(60)) {
                (try? await runtime.status(name: "mute", namespace: ns).instances.contains { $0.phase == .starting })
                    == true
            }
            try #require(waiting)
            try await runtime.scale(name: "mute", namespace: ns, replicas: 0)
            do {
                try await update.value
                Issue.record("the superseded update succeeded")
            } catch FunctionRuntimeError.conflict(let message) {
                #expect(message.contains("newer change"))
            }
            let status = try await runtime.status(name: "mute", namespace: ns)
            #expect(status.replicas == 0 && status.definition.image == "local/good:1")
            #expect(try await harness.runningTasks().isEmpty)
        }
    }

    /// A scale whose record cannot be saved (here its temporary file's name is taken by a folder) fails and
    /// leaves the function as it was, in memory as on disk.
    @Test func aScaleThatCannotBeSavedChangesNothing() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/same:1")
            try await runtime.deploy(
                FunctionDefinition(name: "same", namespace: ns, image: "local/same:1"), replicas: 1)
            let blocker = "\(harness.stateDirectory)/functions/\(ns)/same.json.tmp-\(getpid())"
            try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
            await #expect(throws: FunctionRuntimeError.self) {
                try await runtime.scale(name: "same", namespace: ns, replicas: 3)
            }
            let status = try await runtime.status(name: "same", namespace: ns)
            #expect(status.replicas == 1 && status.availableReplicas == 1)
            try FileManager.default.removeItem(atPath: blocker)
        }
    }

    /// A function whose process exits once it has served (the test makes it crash, so no clock decides when),
    /// removed and deployed again 20 times while its restarts come and go: every task, container, snapshot,
    /// network namespace and address belongs to a record afterwards.
    @Test func removingAFunctionMidRestartLeavesNothingBehind() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/flaky:1")
            for round in 0..<20 {
                try await runtime.deploy(
                    FunctionDefinition(name: "flaky", namespace: ns, image: "local/flaky:1"), replicas: 1)
                let endpoint = try #require(runtime.endpoints(name: "flaky", namespace: ns).first)
                _ = try? await harness.info(endpoint, "crash")
                if round % 2 == 1 {
                    // Every other round, remove once the crash was seen and a restart scheduled or under way;
                    // the other rounds remove at once, racing the exit event.
                    _ = await eventually(timeout: .seconds(20)) {
                        (try? await runtime.status(name: "flaky", namespace: ns).instances.contains { $0.restarts > 0 })
                            == true
                    }
                }
                try await runtime.remove(name: "flaky", namespace: ns)
            }
            #expect(try await harness.containerIDs().isEmpty)
            #expect(try await harness.taskTable().isEmpty)
            #expect(try await harness.snapshotKeys().isEmpty)
            #expect(harness.networkNamespaces().isEmpty)
            #expect(harness.allocatedAddresses().isEmpty)
            let nat = try await ChildProcess("/usr/sbin/iptables", ["-w", "-t", "nat", "-S", "POSTROUTING"])
                .runChecked().outputText
            #expect(!nat.contains("skiff-\(harness.bridge)"), "NAT rules left: \(nat)")
        }
    }

    /// A request already routed to an old replica finishes before that replica is signalled, even though this
    /// server exits at once on SIGTERM; meanwhile new requests go to the new replica only.
    @Test func anUpdateWaitsForRequestsInFlightToTheOldReplicas() async throws {
        try await withRuntime(gracePeriod: .seconds(20)) { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/drain:1")
            try await runtime.deploy(
                FunctionDefinition(name: "drain", namespace: ns, image: "local/drain:1"), replicas: 1)
            let (old, _) = try await runtime.acquireEndpoint(name: "drain", namespace: ns, waitingUpTo: .zero)
            let slow = Task { try await harness.get(old, "/cgi-bin/info?slow") }
            try await Task.sleep(for: .milliseconds(300))
            let update = Task {
                try await runtime.update(
                    FunctionDefinition(name: "drain", namespace: ns, image: "local/drain:1", envVars: ["V": "2"]))
                return ContinuousClock.now
            }
            // Once the new replica is published, requests go there, not to the one still draining.
            #expect(
                await eventually(timeout: .seconds(60)) {
                    runtime.endpoints(name: "drain", namespace: ns).first.map { $0.id != old.id } ?? false
                })
            let (fresh, _) = try await runtime.acquireEndpoint(name: "drain", namespace: ns, waitingUpTo: .zero)
            #expect(fresh.id != old.id)
            runtime.releaseEndpoint(fresh)
            let answer = try await slow.value
            let answered = ContinuousClock.now
            runtime.releaseEndpoint(old)
            #expect(answer.status == 200 && answer.body.contains("late"))
            // The update ends only after the old replica was released and stopped.
            let finished = try await update.value
            #expect(finished > answered)
            #expect(try await harness.info(fresh, "env").contains("V=2"))
        }
    }

    /// A server that ignores SIGTERM (busybox httpd as PID 1 has no handler) is killed after the grace period.
    @Test func aReplicaIgnoringSIGTERMIsKilledAfterTheGracePeriod() async throws {
        try await withRuntime(gracePeriod: .seconds(1)) { harness in
            let ns = harness.namespace
            try await harness.importImage(
                "docker.io/local/stubborn:1", command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"])
            try await harness.runtime.deploy(
                FunctionDefinition(name: "stubborn", namespace: ns, image: "local/stubborn:1"), replicas: 1)
            let started = ContinuousClock.now
            try await harness.runtime.scale(name: "stubborn", namespace: ns, replicas: 0)
            let took = ContinuousClock.now - started
            // At least the grace period; that it then ended is what the empty task list shows.
            #expect(took >= .seconds(1), "\(took)")
            #expect(try await harness.runningTasks().isEmpty)
        }
    }

    /// Images live per containerd namespace: a deploy into another function namespace copies the image there.
    @Test func aDeployIntoAnotherNamespaceBringsTheImageAlong() async throws {
        try await withRuntime { harness in
            let other = "\(harness.namespace)-b"
            _ = try await ChildProcess("/usr/bin/ctr", ["namespaces", "create", other, "openfaas=1"]).runChecked()
            do {
                try await harness.importImage("docker.io/local/shared:1")
                #expect(try await harness.runtime.namespaces().contains(other))
                try await harness.runtime.deploy(
                    FunctionDefinition(name: "shared", namespace: other, image: "local/shared:1"), replicas: 1)
                let endpoint = try #require(harness.runtime.endpoints(name: "shared", namespace: other).first)
                #expect(try await harness.get(endpoint, "/index.html").status == 200)
                #expect(try await harness.runtime.list(namespace: other).map(\.definition.name) == ["shared"])
                #expect(try await harness.runtime.list(namespace: harness.namespace).isEmpty)
                try await harness.runtime.remove(name: "shared", namespace: other)
            } catch {
                Issue.record(error)
            }
            _ = try? await ChildProcess(
                "/usr/bin/ctr", ["-n", other, "images", "rm", "--sync", "docker.io/local/shared:1"]
            )
            .run()
            _ = await eventually(timeout: .seconds(5)) {
                (try? await ChildProcess("/usr/bin/ctr", ["namespaces", "rm", other]).run().succeeded) ?? true
            }
        }
    }
}

@Suite("readiness probe")
struct ReadinessProbeTests {
    /// A watchdog answers 503 until its function is ready; anything else (even 404) means ready.
    @Test func onlyA503MeansNotReady() async throws {
        let statuses = Mutex<[Int]>([503, 503, 404])
        var router = HTTPRouter()
        try router.add(.get, "/_/health") { _ in
            let code = statuses.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
            return HTTPResponse(status: HTTPStatus(code: code))
        }
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: testGroup, responder: router)
        let port = try await server.start()[0].port
        let probe = ReadinessProbe(client: testClient, port: port)
        // No such network namespace, so no loopback route: the probe goes on to the address.
        let replica = Replica(
            id: "probe-1", namespace: "t", function: "probe", generation: "1",
            networkNamespace: "skiff-no-such-namespace-\(getpid())", address: "127.0.0.1", snapshotKey: "")
        #expect(await probe.check(replica) == nil)
        // A bound for a failed test only: the probe answers as soon as the 404 comes, however busy the machine.
        let route = try await probe.waitUntilReady(replica, deadline: .now + .seconds(60)) { true }
        #expect(route == .bridge)
        #expect(statuses.withLock { $0 } == [404])
        await server.shutdown(gracePeriod: .seconds(1))
        // Nothing listening: not ready, and the probe gives up at its deadline.
        #expect(try await probe.waitUntilReady(replica, deadline: .now + .milliseconds(300)) { true } == nil)
    }

    /// Only the peer's refusal, or a namespace that is gone, means nothing listens on a route. The daemon running
    /// out of descriptors (CI: a neighbouring test held 400 sockets in the same process) once pinned a replica
    /// that listens on its loopback to the bridge, because its own EMFILE was read as "nothing there".
    @Test(arguments: [
        (HTTPClientError.connectionRefused(address: "127.0.0.1:8080"), ReadinessProbe.Answer.nothingThere),
        (.noSuchNetworkNamespace("/run/netns/gone"), .nothingThere),
        (.system("connecting to 127.0.0.1:8080: socket: Too many open files (EMFILE)"), .noAnswer),
        (.connectTimeout(address: "127.0.0.1:8080"), .noAnswer),
        (.connectionReset, .noAnswer),
        (.requestTimeout, .noAnswer),
    ])
    func onlyTheReplicasOwnRefusalMeansNothingListens(error: HTTPClientError, expected: ReadinessProbe.Answer) {
        #expect(ReadinessProbe.answer(for: error) == expected)
    }

    /// Each row: the answers the routes give in the order they are asked, and the route the probe settles on.
    /// The third row is the race a busy machine produced in CI: the server began listening on every address
    /// between the loopback's refusal and the bridge's answer, and the replica then lived on the slower bridge.
    @Test(arguments: [
        ([ReadinessProbe.Answer.ready], ReplicaRoute?.some(.loopback)),
        ([.notReady], nil),
        ([.nothingThere, .ready, .ready], .loopback),
        ([.nothingThere, .ready, .nothingThere], .bridge),
        ([.nothingThere, .ready, .noAnswer], nil),
        ([.nothingThere, .nothingThere], nil),
    ])
    func theLoopbackWinsWheneverItAnswers(answers: [ReadinessProbe.Answer], expected: ReplicaRoute?) async {
        let asked = Mutex<[ReplicaRoute]>([])
        let script = Mutex(answers)
        let route = await ReadinessProbe.route { route in
            asked.withLock { $0.append(route) }
            return script.withLock { $0.isEmpty ? .noAnswer : $0.removeFirst() }
        }
        #expect(route == expected)
        #expect(asked.withLock { $0 } == Array([ReplicaRoute.loopback, .bridge, .loopback].prefix(answers.count)))
    }
}

/// Runs `change` while sampling, about every millisecond, how many ready replicas the function has; returns the
/// number of samples and the fewest seen.
func fewestReady(
    _ name: String, _ namespace: String, _ runtime: ContainerdRuntime, during change: () async throws -> Void
) async throws -> (samples: Int, fewest: Int) {
    let done = Atomic<Bool>(false)
    let sampler = Task {
        var samples = 0
        var fewest = Int.max
        while !done.load(ordering: .acquiring) {
            fewest = min(fewest, runtime.endpoints(name: name, namespace: namespace).count)
            samples += 1
            try? await Task.sleep(for: .milliseconds(1))
        }
        return (samples, fewest)
    }
    do {
        try await change()
    } catch {
        done.store(true, ordering: .releasing)
        _ = await sampler.value
        throw error
    }
    done.store(true, ordering: .releasing)
    return await sampler.value
}
