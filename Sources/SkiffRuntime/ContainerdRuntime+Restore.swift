import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffHTTP
import SkiffImage
import SkiffLog
import SkiffPOSIX
import Synchronization

/// Start-up and the life of the daemon: restoring what the state directory records (adopting running replicas,
/// restarting the rest, removing this instance's leftovers), then watching containerd's events for replicas that
/// exit, for as long as the daemon runs.
extension ContainerdRuntime {

    /// Checks containerd, prepares the bridge, the default namespace and the files mounted into functions, then
    /// reconciles with containerd. Returns once every recorded function has its replicas (or has failed to, which
    /// is logged and retried by the supervisors).
    public func start() async throws {
        try await ctr.checkServer()
        try await ctr.createNamespace(configuration.defaultNamespace, labels: ["openfaas": "1"])
        try await lifecycle.netns.ensureBridge(configuration.bridgeName, subnet: subnet)
        try await ReplicaIsolation(bridge: configuration.bridgeName, subnet: subnet)
            .apply(expose: configuration.exposeReplicas)
        try writeMountedFiles()
        // The mounted file systems of every function: root's alone on the host.
        let rootfsBase = "\(configuration.stateDirectory)/rootfs"
        try FileManager.default.createDirectory(atPath: rootfsBase, withIntermediateDirectories: true)
        try? FileSystem.setMode(rootfsBase, 0o700)
        let (records, unreadable) = desiredState.loadAll()
        for path in unreadable {
            logger.error("cannot read the desired-state record \(path); move it away or fix it, it is ignored")
        }
        var namespaces = Set(try await namespaces())
        namespaces.formUnion(records.map(\.definition.namespace))
        // What this instance has in containerd, per function.
        var found: [String: [(replica: Replica, task: Ctr.TaskInfo?)]] = [:]
        var strays: [Replica] = []
        for namespace in namespaces.sorted() {
            let tasks = try await ctr.tasks(namespace)
            for id in try await ctr.containers(namespace, label: Replica.Label.instance, equals: instanceID) {
                let info = try await ctr.containerInfo(namespace, id)
                guard let replica = Replica(id: id, namespace: namespace, labels: info.labels ?? [:]) else { continue }
                let record = records.first {
                    $0.definition.namespace == namespace && $0.definition.name == replica.function
                }
                if let record, record.generation == replica.generation {
                    found[EndpointTable.key(namespace, replica.function), default: []].append((replica, tasks[id]))
                } else {
                    strays.append(replica)
                }
            }
        }
        for replica in strays {
            logger.notice("removing leftover replica \(replica.id) of \(replica.function).\(replica.namespace)")
            await lifecycle.destroy(replica)
        }
        await collectGarbage(keeping: found.values.flatMap { $0.map(\.replica) })
        // Restore every function in parallel; one that cannot be restored does not hold up the others.
        let adoptable = found
        await withTaskGroup(of: Void.self) { group in
            for record in records {
                let key = EndpointTable.key(record.definition.namespace, record.definition.name)
                let replicas = adoptable[key] ?? []
                group.addTask {
                    // A missing image does not lose the function: its replicas may still exist, and the image
                    // is looked for again when new replicas are needed.
                    let image: ResolvedImage
                    do {
                        image = try await self.resolve(record.definition)
                    } catch {
                        self.logger.error(
                            "the image of \(record.definition.name).\(record.definition.namespace) is missing: \(error)"
                        )
                        image = ResolvedImage(
                            reference: record.definition.image, digest: "",
                            configuration: ImageConfiguration(config: .init(), diffIDs: []), chainID: "")
                    }
                    let supervisor = self.makeSupervisor(record, image: image)
                    self.supervisors.withLock { $0[key] = supervisor }
                    do {
                        try await supervisor.adopt(replicas)
                    } catch {
                        self.logger.error(
                            "cannot restore \(record.definition.name).\(record.definition.namespace): \(error)")
                    }
                }
            }
        }
        definitionChanges.notify()
        logger.info("restored \(records.count) functions")
    }

    /// Watches containerd for exited tasks until cancelled, restarting the watcher if containerd restarts, looks
    /// at every replica's process every few seconds in case an event was missed, and restarts crashed replicas
    /// when their back-off has passed.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.restarts.run() }
            group.addTask { await self.watchEvents() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    await self.resync()
                }
            }
            await group.waitForAll()
        }
    }

    private func resync() async {
        for supervisor in supervisors.withLock({ Array($0.values) }) { await supervisor.resync() }
    }

    private func watchEvents() async {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let events = try ctr.events()
                // A fresh stream may have missed exits.
                await resync()
                for try await line in events {
                    delay = .milliseconds(200)
                    await handleEvent(line)
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("containerd event stream ended: \(error); reconnecting")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
    }

    private func handleEvent(_ line: String) async {
        // "2026-11-27 23:49:05.57 +0000 UTC NAMESPACE /tasks/exit {json}"
        let fields = line.split(separator: " ", maxSplits: 6)
        guard fields.count == 7, fields[5] == "/tasks/exit" else { return }
        struct Exit: Decodable {
            var container_id: String
            var id: String?
            var exit_status: Int?
        }
        guard let exit = try? JSONDecoder().decode(Exit.self, from: Data(fields[6].utf8)),
            exit.id == nil || exit.id == exit.container_id
        else { return }
        let function = exit.container_id.split(separator: "-").dropLast().joined(separator: "-")
        guard let supervisor = supervisors.withLock({ $0[EndpointTable.key(String(fields[4]), function)] }) else {
            return
        }
        await supervisor.taskExited(exit.container_id, status: exit.exit_status)
    }

    /// Removes this instance's leftovers that no replica owns: CNI attachments, network namespaces, mounts.
    private func collectGarbage(keeping replicas: [Replica]) async {
        let namespacesInUse = Set(replicas.map(\.networkNamespace))
        for id in lifecycle.network.attachedIDs() where !namespacesInUse.contains(id) {
            logger.notice("releasing leftover network attachment \(id)")
            try? await lifecycle.network.delete(id: id, networkNamespace: NetworkNamespaces.path(id))
            try? await lifecycle.netns.delete(id)
        }
        let prefix = "skiff-\(instanceID)-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        where name.hasPrefix(prefix) && !namespacesInUse.contains(name) {
            try? await lifecycle.netns.delete(name)
        }
        let kept = Set(replicas.map { lifecycle.rootfs($0) })
        let rootfsBase = "\(configuration.stateDirectory)/rootfs"
        for namespace in (try? FileManager.default.contentsOfDirectory(atPath: rootfsBase)) ?? [] {
            for id in (try? FileManager.default.contentsOfDirectory(atPath: "\(rootfsBase)/\(namespace)")) ?? [] {
                let path = "\(rootfsBase)/\(namespace)/\(id)"
                guard !kept.contains(path) else { continue }
                RootFilesystem.unmount(path)
                try? FileManager.default.removeItem(atPath: path)
                try? FileManager.default.removeItem(
                    atPath: "\(configuration.stateDirectory)/replicas/\(namespace)/\(id)")
            }
        }
    }
}
