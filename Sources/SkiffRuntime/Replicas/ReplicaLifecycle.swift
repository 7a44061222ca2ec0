import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffPOSIX

/// Everything that happens to one replica, in order: prepare (network namespace, address, snapshot, container),
/// start (a containerd task), stop (SIGTERM, grace, SIGKILL, task deleted), destroy (container, snapshot,
/// address, namespace gone). Stateless: the supervisor decides when; this knows how, and cleans up after itself
/// when a step fails.
struct ReplicaLifecycle: Sendable {
    let configuration: RuntimeConfiguration
    let instanceID: String
    let ctr: Ctr
    let netns: NetworkNamespaces
    let network: CNINetwork
    let secrets: SecretStore
    let logs: FunctionLogs
    /// Where waits for a replica's process to exit are watched.
    let loops: EventLoopGroup

    var hostsFile: String { "\(configuration.stateDirectory)/etc/hosts" }
    var resolvFile: String { "\(configuration.stateDirectory)/etc/resolv.conf" }

    func directory(_ replica: Replica) -> String {
        "\(configuration.stateDirectory)/replicas/\(replica.namespace)/\(replica.id)"
    }

    func rootfs(_ replica: Replica) -> String {
        "\(configuration.stateDirectory)/rootfs/\(replica.namespace)/\(replica.id)"
    }

    // MARK: Prepare

    /// Creates a replica that is ready to start: its own network namespace on the bridge (so its address is
    /// known now and kept across restarts), a writable snapshot of the image mounted, secret copies owned by the
    /// image's user, and the containerd container. On failure, whatever was made is removed again.
    func prepare(_ definition: FunctionDefinition, image: ResolvedImage, generation: String) async throws -> Replica {
        let id = "\(definition.name)-\(RandomName.make(length: 6))"
        var replica = Replica(
            id: id, namespace: definition.namespace, function: definition.name, generation: generation,
            networkNamespace: "skiff-\(instanceID)-\(id)", address: "",
            snapshotKey: "skiff/\(instanceID)/\(id)")
        do {
            try await netns.create(replica.networkNamespace)
            replica.address = try await network.add(
                id: replica.networkNamespace, networkNamespace: NetworkNamespaces.path(replica.networkNamespace))
            let mounts = try await ctr.prepareSnapshot(
                replica.namespace, key: replica.snapshotKey, parent: image.chainID)
            try RootFilesystem.mount(mounts, at: rootfs(replica))
            try await createContainer(replica, definition: definition, image: image)
            return replica
        } catch {
            await destroy(replica)
            throw error
        }
    }

    private func createContainer(_ replica: Replica, definition: FunctionDefinition, image: ResolvedImage) async throws
    {
        let folder = directory(replica)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // root's alone on the host: an account that happens to share the function's uid cannot reach the secret
        // copies below (the container sees only the mounted secrets folder).
        try? FileSystem.setMode(folder, 0o700)
        let user = try RootFilesystem.user(image.configuration.config?.user, rootfs: rootfs(replica))
        var secretsDirectory: String?
        if !definition.secrets.isEmpty {
            let path = "\(folder)/secrets"
            do {
                try secrets.project(
                    namespace: definition.namespace, names: definition.secrets, into: path, uid: user.uid,
                    gid: user.gid)
            } catch FunctionRuntimeError.notFound(let message) {
                throw FunctionRuntimeError.invalid("\(message); create it first")
            }
            secretsDirectory = path
        }
        let spec = try RuntimeSpec(
            RuntimeSpec.Inputs(
                definition: definition, image: image.configuration, user: user, containerID: replica.id,
                rootfs: rootfs(replica), networkNamespace: NetworkNamespaces.path(replica.networkNamespace),
                hostsFile: hostsFile, resolvFile: resolvFile, secretsDirectory: secretsDirectory,
                pidsLimit: configuration.pidsLimit))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let specFile = "\(folder)/config.json"
        try StateFile.write(Array(try encoder.encode(spec)), to: specFile)
        var labels = definition.labels
        for (key, value) in definition.annotations { labels[FunctionDefinition.annotationPrefix + key] = value }
        labels.merge(replica.labels) { $1 }
        labels[Replica.Label.instance] = instanceID
        try await ctr.createContainer(replica.namespace, id: replica.id, specFile: specFile, labels: labels)
    }

    /// After a reboot the network namespace and the rootfs mount are gone while the container remains: make
    /// them again (a new address; the stale one is released first) and record the address on the container.
    func restore(_ replica: Replica) async throws -> Replica {
        var restored = replica
        if !netns.exists(replica.networkNamespace) {
            try? await network.delete(
                id: replica.networkNamespace, networkNamespace: NetworkNamespaces.path(replica.networkNamespace))
            try await netns.create(replica.networkNamespace)
            restored.address = try await network.add(
                id: replica.networkNamespace, networkNamespace: NetworkNamespaces.path(replica.networkNamespace))
            try await ctr.setLabels(replica.namespace, replica.id, [Replica.Label.address: restored.address])
        }
        if !FileSystem.isMountPoint(rootfs(replica)) {
            try RootFilesystem.mount(
                try await ctr.snapshotMounts(replica.namespace, key: replica.snapshotKey),
                at: rootfs(replica))
        }
        return restored
    }

    // MARK: Start and stop

    /// Starts the replica's task. Returns the task's PID. A stale task left from an exit is deleted and the
    /// start retried, rather than deleting first: a cold start waits on this, and every ctr call costs ~20 ms.
    func start(_ replica: Replica) async throws -> Int32 {
        let uri = LogCollector.uri(
            collector: configuration.logCollector, sink: configuration.logSink, limit: configuration.logFileLimit,
            directory: logs.files.directory)
        let pidFile = "\(directory(replica))/pid"
        do {
            return try await ctr.startTask(replica.namespace, replica.id, logURI: uri, pidFile: pidFile)
        } catch FunctionRuntimeError.system(let message) where message.contains("already exists") {
            try await ctr.deleteTask(replica.namespace, replica.id, force: true)
            return try await ctr.startTask(replica.namespace, replica.id, logURI: uri, pidFile: pidFile)
        }
    }

    /// SIGTERM to every process of the task, up to `grace` for it to exit, then SIGKILL; the task is deleted.
    func stop(_ replica: Replica, pid: Int32?, grace: Duration) async {
        try? await ctr.kill(replica.namespace, replica.id, signal: "SIGTERM")
        if let pid { _ = await Processes.waitForExit(pid, on: loops.next(), until: .now + grace) }
        try? await ctr.kill(replica.namespace, replica.id, signal: "SIGKILL")
        try? await ctr.deleteTask(replica.namespace, replica.id, force: true)
    }

    /// Removes everything the replica owns. Each step runs even when an earlier one failed, so a half-made
    /// replica is cleaned as far as possible; what is left is found again at the next restore.
    func destroy(_ replica: Replica, pid: Int32? = nil, grace: Duration = .zero) async {
        await stop(replica, pid: pid, grace: grace)
        try? await ctr.deleteContainer(replica.namespace, replica.id)
        RootFilesystem.unmount(rootfs(replica))
        try? FileManager.default.removeItem(atPath: rootfs(replica))
        try? await ctr.removeSnapshot(replica.namespace, key: replica.snapshotKey)
        try? await network.delete(
            id: replica.networkNamespace, networkNamespace: NetworkNamespaces.path(replica.networkNamespace))
        try? await netns.delete(replica.networkNamespace)
        try? FileManager.default.removeItem(atPath: directory(replica))
    }
}
