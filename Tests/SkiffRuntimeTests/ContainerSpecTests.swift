import Foundation
import SkiffAPI
import SkiffRuntime
import SkiffTestSupport
import Testing

/// What a function sees from inside its container, checked from inside (a CGI script in the image) and from
/// the host (cgroups, file modes): secrets, limits, read-only root, user, hostname, capabilities, /etc/hosts.
@Suite("the container a function runs in", .serialized, .enabled(if: RealParts.enabled))
struct ContainerSpecTests {
    @Test func secretsLimitsReadOnlyRootUserAndNames() async throws {
        try await withRuntime { harness in
            let runtime = harness.runtime
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/spec:1", user: "app")
            try await runtime.writeSecret(namespace: ns, name: "api-key", value: Array("s3cret".utf8), replacing: false)
            let definition = FunctionDefinition(
                name: "spec", namespace: ns, image: "local/spec:1", envProcess: "cat",
                envVars: ["MODE": "test"], labels: ["team": "lab"], annotations: ["topic": "demo"],
                secrets: ["api-key"], limits: .init(memory: "64Mi", cpu: "0.5"), readOnlyRootFilesystem: true)
            try await runtime.deploy(definition, replicas: 1)
            let endpoint = try #require(runtime.endpoints(name: "spec", namespace: ns).first)

            #expect(
                try await harness.info(endpoint, "hostname").trimmingCharacters(in: .whitespacesAndNewlines) == "spec")
            #expect(try await harness.info(endpoint, "id") == "1000\n1000\n")
            let env = try await harness.info(endpoint, "env")
            #expect(env.contains("fprocess=cat") && env.contains("MODE=test"))
            #expect(try await harness.info(endpoint, "secret=api-key") == "s3cret")
            #expect(try await harness.info(endpoint, "rootfs") == "root-read-only\ntmp-writable\n")
            let hosts = try await harness.info(endpoint, "hosts")
            #expect(hosts.contains("\(runtime.gatewayAddress)\tgateway"))

            // A secret changed on the host is visible to the running replica at once.
            try await runtime.writeSecret(namespace: ns, name: "api-key", value: Array("rotated".utf8), replacing: true)
            #expect(try await harness.info(endpoint, "secret=api-key") == "rotated")

            // On the host: the store is 0600 root; the replica's projected copy belongs to uid 1000, mode 0400,
            // behind the replica's folder, which is root's alone (0700), so a host account with uid 1000 cannot
            // reach it.
            let store = try FileManager.default.attributesOfItem(
                atPath: "\(harness.stateDirectory)/secrets/\(ns)/api-key")
            #expect((store[.posixPermissions] as? Int) == 0o600)
            let folder = "\(harness.stateDirectory)/replicas/\(ns)/\(endpoint.id)"
            let copy = try FileManager.default.attributesOfItem(atPath: "\(folder)/secrets/..data/api-key")
            #expect((copy[.posixPermissions] as? Int) == 0o400)
            #expect((copy[.ownerAccountID] as? Int) == 1000)
            let rootfs = try FileManager.default.attributesOfItem(atPath: "\(harness.stateDirectory)/rootfs")
            #expect((rootfs[.posixPermissions] as? Int) == 0o700)
            let replicaFolder = try FileManager.default.attributesOfItem(atPath: folder)
            #expect((replicaFolder[.posixPermissions] as? Int) == 0o700)
            #expect((replicaFolder[.ownerAccountID] as? Int) == 0)
            // One version of the values at a time: the rotation swapped `..data` and dropped the old folder.
            let entries = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/secrets")
            #expect(entries.filter { $0.hasPrefix("..v") }.count == 1 && entries.contains("api-key"))

            // Limits in the cgroup the task runs in (v1 here, v2 on Ubuntu VMs).
            let memory = cgroupValue(
                namespace: ns, id: endpoint.id, v1: ("memory", "memory.limit_in_bytes"), v2: "memory.max")
            #expect(memory == "67108864")
            let cfsQuota = cgroupValue(namespace: ns, id: endpoint.id, v1: ("cpu", "cpu.cfs_quota_us"), v2: "cpu.max")
            #expect(cfsQuota == "50000" || cfsQuota == "50000 100000")

            // Labels and annotations as containerd labels, faasd's way.
            let info = try await harness.ctr(["containers", "info", endpoint.id])
            #expect(info.contains(#""team": "lab""#) && info.contains(#""com.openfaas.annotations.topic": "demo""#))
            try await runtime.remove(name: "spec", namespace: ns)
        }
    }

    @Test func capabilitiesAreMinimal() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/caps:1")
            try await harness.runtime.deploy(
                FunctionDefinition(name: "caps", namespace: ns, image: "local/caps:1"), replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "caps", namespace: ns).first)
            // Only CAP_NET_RAW (bit 13) remains, even for root.
            let caps = try await harness.info(endpoint, "caps")
            #expect(caps.contains("CapBnd:\t0000000000002000"), "\(caps)")
            #expect(try await harness.info(endpoint, "rootfs") == "root-writable\ntmp-writable\n")
        }
    }

    /// Even as root inside its container, a function runs under the default seccomp filter (no user namespaces,
    /// no mounts), with no new privileges, a PID limit and an OOM score well above the daemon's.
    @Test func functionsRunInASandbox() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/box:1")
            try await harness.runtime.deploy(
                FunctionDefinition(name: "box", namespace: ns, image: "local/box:1"), replicas: 1)
            try await harness.runtime.deploy(
                FunctionDefinition(
                    name: "few", namespace: ns, image: "local/box:1", labels: ["com.openfaas.pids": "32"]),
                replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "box", namespace: ns).first)
            let sandbox = try await harness.info(endpoint, "sandbox")
            #expect(sandbox.contains("Seccomp:\t2") && sandbox.contains("NoNewPrivs:\t1"), "\(sandbox)")
            #expect(sandbox.contains("unshare-denied") && sandbox.contains("mount-denied"), "\(sandbox)")
            #expect(sandbox.hasSuffix("500\n"), "\(sandbox)")
            // The shell forks for every command of the CGI script: the filter lets ordinary work through.
            #expect(try await harness.info(endpoint, "id") == "0\n0\n")
            let pids = cgroupValue(namespace: ns, id: endpoint.id, v1: ("pids", "pids.max"), v2: "pids.max")
            #expect(pids == "1024")
            let few = try #require(harness.runtime.endpoints(name: "few", namespace: ns).first)
            #expect(cgroupValue(namespace: ns, id: few.id, v1: ("pids", "pids.max"), v2: "pids.max") == "32")
        }
    }

    @Test func aMissingSecretOrBadLimitIsRefusedBeforeAnythingIsCreated() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/bad:1")
            for definition in [
                FunctionDefinition(name: "bad", namespace: ns, image: "local/bad:1", secrets: ["nope"]),
                FunctionDefinition(name: "bad", namespace: ns, image: "local/bad:1", limits: .init(memory: "lots")),
                FunctionDefinition(name: "Bad_Name", namespace: ns, image: "local/bad:1"),
                // Not in containerd, so a pull is tried: from a loopback port nothing listens on (tests never
                // reach out to a real registry).
                FunctionDefinition(name: "bad", namespace: ns, image: "127.0.0.1:1/missing:1"),
                FunctionDefinition(name: "bad", namespace: "not-labelled", image: "local/bad:1"),
            ] {
                await #expect(throws: FunctionRuntimeError.self) {
                    try await harness.runtime.deploy(definition, replicas: 1)
                }
            }
            #expect(try await harness.containerIDs().isEmpty)
            #expect(harness.networkNamespaces().isEmpty && harness.allocatedAddresses().isEmpty)
            // The missing image is explained in one paragraph that names the ways to get it there, without ctr's
            // whole output and without build-only flags.
            do {
                try await harness.runtime.deploy(
                    FunctionDefinition(name: "bad", namespace: ns, image: "127.0.0.1:1/missing:1"), replicas: 1)
            } catch FunctionRuntimeError.image(let message) {
                #expect(message.contains("is neither in containerd") && message.contains("one of three ways"))
                #expect(message.contains("images import") && !message.contains("--base") && !message.contains("\n"))
            }
        }
    }

    @Test func aFunctionThatNeverBecomesReadyFailsTheDeployAndLeavesNothing() async throws {
        try await withRuntime(deployTimeout: .seconds(3)) { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/mute:1", command: ["/bin/sleep", "600"])
            await #expect(throws: FunctionRuntimeError.self) {
                try await harness.runtime.deploy(
                    FunctionDefinition(name: "mute", namespace: ns, image: "local/mute:1"), replicas: 1)
            }
            #expect(try await harness.containerIDs().isEmpty)
            #expect(try await harness.runningTasks().isEmpty)
            #expect(try await harness.snapshotKeys().isEmpty)
            #expect(harness.networkNamespaces().isEmpty && harness.allocatedAddresses().isEmpty)
            #expect(try await harness.runtime.list(namespace: ns).isEmpty)
        }
    }
}
