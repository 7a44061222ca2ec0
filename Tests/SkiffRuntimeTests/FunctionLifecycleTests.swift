import Foundation
import SkiffAPI
import SkiffRuntime
import SkiffTestSupport
import Testing

/// Real containers through containerd and runc, on a bridge made by the CNI plugins: deploy, invoke over the
/// bridge, scale to 3 and back to 0, scale from zero, update without downtime, remove, and then check with
/// ctr, `ip netns` and host-local's state that nothing is left.
@Suite("function lifecycle on containerd", .serialized, .enabled(if: RealParts.enabled))
struct FunctionLifecycleTests {
    @Test func deployScaleUpdateRemoveLeavesNothing() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/echo:1")
            try await runtime.deploy(
                FunctionDefinition(name: "echo", namespace: ns, image: "local/echo:1"), replicas: 1)

            var status = try await runtime.status(name: "echo", namespace: ns)
            #expect(status.replicas == 1 && status.availableReplicas == 1)
            #expect(status.resolvedImage == "docker.io/local/echo:1")
            let first = runtime.endpoints(name: "echo", namespace: ns)
            #expect(first.count == 1)
            let endpoint = try #require(first.first)
            #expect(endpoint.id.hasPrefix("echo-") && !endpoint.id.dropFirst(5).contains("-"))
            #expect(try await harness.get(endpoint, "/index.html").body == "hello from skiff\n")
            #expect(try await harness.runningTasks() == [endpoint.id])

            // Scale to 3: three tasks in containerd, three addresses, each answering.
            try await runtime.scale(name: "echo", namespace: ns, replicas: 3)
            let three = runtime.endpoints(name: "echo", namespace: ns)
            #expect(three.count == 3 && Set(three.map(\.host)).count == 3)
            #expect(Set(try await harness.runningTasks()) == Set(three.map(\.id)))
            for replica in three { #expect(try await harness.get(replica, "/index.html").status == 200) }
            #expect(harness.allocatedAddresses().count == 3)

            // Scale to 0: no task runs; one replica stays prepared (container, snapshot, address).
            try await runtime.scale(name: "echo", namespace: ns, replicas: 0)
            #expect(runtime.endpoints(name: "echo", namespace: ns).isEmpty)
            #expect(try await harness.runningTasks().isEmpty)
            status = try await runtime.status(name: "echo", namespace: ns)
            #expect(status.replicas == 0 && status.availableReplicas == 0)
            #expect(status.instances.map(\.phase) == [.idle])
            #expect(try await harness.containerIDs().count == 1)
            #expect(harness.allocatedAddresses().count == 1)

            // Scale from zero on demand.
            let (woken, waited) = try await runtime.acquireEndpoint(
                name: "echo", namespace: ns, waitingUpTo: .seconds(60))
            #expect(waited)
            #expect(runtime.endpoints(name: "echo", namespace: ns).count == 1)
            #expect(try await harness.get(woken, "/index.html").status == 200)
            runtime.releaseEndpoint(woken)
            #expect(try await runtime.status(name: "echo", namespace: ns).replicas == 1)

            // Update: new replicas (new ids) with the new env; the old ones are gone afterwards.
            try await runtime.scale(name: "echo", namespace: ns, replicas: 2)
            let before = Set(runtime.endpoints(name: "echo", namespace: ns).map(\.id))
            try await runtime.update(
                FunctionDefinition(name: "echo", namespace: ns, image: "local/echo:1", envVars: ["GREETING": "v2"]))
            let after = runtime.endpoints(name: "echo", namespace: ns)
            #expect(after.count == 2 && Set(after.map(\.id)).isDisjoint(with: before))
            #expect(try await harness.info(after[0], "env").contains("GREETING=v2"))
            #expect(Set(try await harness.runningTasks()) == Set(after.map(\.id)))
            #expect(Set(try await harness.containerIDs()) == Set(after.map(\.id)))

            // Remove: nothing left in containerd, netns, CNI or IPAM.
            try await runtime.remove(name: "echo", namespace: ns)
            await #expect(throws: FunctionRuntimeError.self) { try await runtime.status(name: "echo", namespace: ns) }
            #expect(try await harness.containerIDs().isEmpty)
            #expect(try await harness.runningTasks().isEmpty)
            #expect(try await harness.snapshotKeys().isEmpty)
            #expect(harness.networkNamespaces().isEmpty)
            #expect(harness.allocatedAddresses().isEmpty)
            #expect(try await runtime.list(namespace: ns).isEmpty)
        }
    }
}
