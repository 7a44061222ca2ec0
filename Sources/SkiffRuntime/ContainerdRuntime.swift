import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffImage
import SkiffLog
import SkiffPOSIX
import Synchronization

/// Functions as containerd containers, driven through `ctr`, with CNI networking and durable desired state.
/// `start()` restores what the state directory records (adopting running replicas, restarting the rest,
/// removing leftovers of this instance); `run()` then watches containerd's events for crashed replicas for as
/// long as the daemon lives.
public final class ContainerdRuntime: FunctionRuntime {
    public let configuration: RuntimeConfiguration
    public let instanceID: String
    public let subnet: Subnet
    public let secrets: SecretStore
    private let ctr: Ctr
    private let images: ImageStore
    private let lifecycle: ReplicaLifecycle
    private let probe: ReadinessProbe
    private let endpointTable = EndpointTable()
    private let desiredState: DesiredState
    private let logs: FunctionLogs
    private let logger: Logger
    private let supervisors = Mutex<[String: FunctionSupervisor]>([:])
    /// See ``containerdNamespaces(lookingFor:)``.
    private let namespaceCache = Mutex<[String: [String: String]]?>(nil)
    /// Names being deployed right now, so two concurrent deploys of one name cannot both succeed.
    private let reserved = Mutex<Set<String>>([])
    private let imageLeases = ImageLeases()

    public init(configuration: RuntimeConfiguration, group: EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        subnet = try Subnet(parsing: configuration.subnet)
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        instanceID = try InstanceIdentity.load(stateDirectory: configuration.stateDirectory)
        ctr = Ctr(path: configuration.ctrPath, address: configuration.containerdAddress)
        images = ImageStore(ctr: ctr, scratchDirectory: "\(configuration.stateDirectory)/tmp")
        secrets = SecretStore(stateDirectory: configuration.stateDirectory)
        logs = FunctionLogs(configuration: configuration)
        desiredState = DesiredState(stateDirectory: configuration.stateDirectory)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectTimeout = .seconds(1)
        probe = ReadinessProbe(
            client: HTTPClient(group: group, configuration: clientConfiguration), port: configuration.functionPort)
        lifecycle = ReplicaLifecycle(
            configuration: configuration, instanceID: instanceID, ctr: ctr,
            netns: NetworkNamespaces(ipPath: configuration.ipPath),
            network: CNINetwork(
                bridge: configuration.bridgeName, subnet: subnet, pluginDirectory: configuration.cniPluginDirectory,
                stateDirectory: configuration.stateDirectory),
            secrets: secrets, logs: logs)
    }

    /// The bridge's address: where functions reach the gateway (`gateway` in their /etc/hosts).
    public var gatewayAddress: String { subnet.gatewayAddress }

    // MARK: Start-up and restore

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
        chmod(rootfsBase, 0o700)
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
        logger.info("restored \(records.count) functions")
    }

    /// Watches containerd for exited tasks until cancelled, restarting the watcher if containerd restarts, and
    /// looks at every replica's process every few seconds in case an event was missed.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
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

    /// /etc/hosts and /etc/resolv.conf for functions; rewritten in place because they are bind-mounted.
    private func writeMountedFiles() throws {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\(gatewayAddress)\tgateway\n"
        try FileManager.default.createDirectory(
            atPath: "\(configuration.stateDirectory)/etc", withIntermediateDirectories: true)
        try StateFile.rewriteInPlace(Array(hosts.utf8), at: lifecycle.hostsFile, mode: 0o644)
        // A host using systemd-resolved lists 127.0.0.53, which means nothing inside a network namespace.
        let source = ["/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"].first {
            FileManager.default.fileExists(atPath: $0)
        }
        let text = source.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        let lines = text.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return
                !(fields.first == "nameserver" && fields.count > 1
                && (fields[1].hasPrefix("127.") || fields[1] == "::1"))
        }
        try StateFile.rewriteInPlace(
            Array((lines.joined(separator: "\n") + "\n").utf8), at: lifecycle.resolvFile, mode: 0o644)
    }

    private func makeSupervisor(_ record: FunctionRecord, image: ResolvedImage) -> FunctionSupervisor {
        FunctionSupervisor(
            record: record, image: image, lifecycle: lifecycle, probe: probe, endpointTable: endpointTable,
            desiredState: desiredState, logger: logger, resolveImage: { [self] in try await resolve($0) })
    }

    private func resolve(_ definition: FunctionDefinition) async throws -> ResolvedImage {
        try await images.resolve(
            definition.image, namespace: definition.namespace, otherNamespaces: [configuration.defaultNamespace])
    }

    private func supervisor(_ name: String, _ namespace: String) throws -> FunctionSupervisor {
        guard let supervisor = supervisors.withLock({ $0[EndpointTable.key(namespace, name)] }) else {
            throw FunctionRuntimeError.notFound("function \(name) not found in namespace \(namespace)")
        }
        return supervisor
    }

    /// Runs a change to its end even when the caller's task is cancelled (an HTTP client that hung up in the
    /// middle of a deploy): half a change is worse than a finished one nobody waited for.
    private func uncancelled<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await work() }.value
    }

    // MARK: FunctionRuntime

    public func deploy(_ definition: FunctionDefinition, replicas: Int) async throws {
        try definition.validate()
        guard replicas >= 0 else { throw FunctionRuntimeError.invalid("replicas must be 0 or more") }
        try await requireNamespace(definition.namespace)
        try requireSecrets(definition)
        let key = EndpointTable.key(definition.namespace, definition.name)
        let claimed = reserved.withLock { $0.insert(key).inserted }
        guard claimed, supervisors.withLock({ $0[key] }) == nil else {
            if claimed { _ = reserved.withLock { $0.remove(key) } }
            throw FunctionRuntimeError.invalid(
                "function \(definition.name) already exists in namespace \(definition.namespace); update it instead")
        }
        defer { _ = reserved.withLock { $0.remove(key) } }
        try await holdingImage(of: definition) {
            let image = try await resolve(definition)
            let record = FunctionRecord(
                definition: definition, replicas: replicas, createdAt: Date(), generation: RandomName.make(length: 8))
            let supervisor = makeSupervisor(record, image: image)
            try await uncancelled { try await supervisor.deploy() }
            supervisors.withLock { $0[key] = supervisor }
        }
        logger.info(
            "deployed \(definition.name).\(definition.namespace) with \(replicas) replicas",
            ["function": definition.name, "namespace": definition.namespace, "image": definition.image])
    }

    public func update(_ definition: FunctionDefinition) async throws {
        try definition.validate()
        let supervisor = try supervisor(definition.name, definition.namespace)
        try requireSecrets(definition)
        try await holdingImage(of: definition) {
            let image = try await resolve(definition)
            let generation = RandomName.make(length: 8)
            try await uncancelled { try await supervisor.update(definition, image: image, generation: generation) }
        }
        logger.info(
            "updated \(definition.name).\(definition.namespace)",
            ["function": definition.name, "namespace": definition.namespace, "image": definition.image])
    }

    public func scale(name: String, namespace: String, replicas: Int) async throws {
        guard replicas >= 0 else { throw FunctionRuntimeError.invalid("replicas must be 0 or more") }
        let supervisor = try supervisor(name, namespace)
        // Checked before the count is recorded: a scale that cannot start replicas changes nothing.
        if replicas > 0 { try requireSecrets(await supervisor.record.definition) }
        try await uncancelled { try await supervisor.scale(to: replicas) }
    }

    public func remove(name: String, namespace: String) async throws {
        let supervisor = try supervisor(name, namespace)
        try await uncancelled { try await supervisor.remove() }
        supervisors.withLock { $0[EndpointTable.key(namespace, name)] = nil }
        logger.info("removed \(name).\(namespace)", ["function": name, "namespace": namespace])
    }

    public func status(name: String, namespace: String) async throws -> FunctionStatus {
        try await supervisor(name, namespace).status()
    }

    public func list(namespace: String) async throws -> [FunctionStatus] {
        let all = supervisors.withLock { $0.filter { $0.key.hasPrefix(namespace + "/") }.map(\.value) }
        var result: [FunctionStatus] = []
        for supervisor in all { result.append(await supervisor.status()) }
        return result.sorted { $0.definition.name < $1.definition.name }
    }

    public func listAll() async -> [FunctionStatus] {
        var result: [FunctionStatus] = []
        for supervisor in supervisors.withLock({ Array($0.values) }) { result.append(await supervisor.status()) }
        return result
    }

    /// containerd's namespaces and their labels, as last read. Skiff's own changes refresh it; a name not found
    /// is looked for once more, for namespaces made with `ctr` directly.
    private func containerdNamespaces(lookingFor name: String? = nil) async throws -> [String: [String: String]] {
        if let cached = namespaceCache.withLock({ $0 }), name.map({ cached[$0] != nil }) ?? true { return cached }
        let fresh = try await ctr.namespaces()
        namespaceCache.withLock { $0 = fresh }
        return fresh
    }

    private func forgetNamespaces() { namespaceCache.withLock { $0 = nil } }

    public func namespaces() async throws -> [String] {
        let all = try await ctr.namespaces()
        namespaceCache.withLock { $0 = all }
        var names = Set(all.filter { $0.value["openfaas"] == "1" || $0.value["openfaas"] == "true" }.map(\.key))
        names.insert(configuration.defaultNamespace)
        return names.sorted()
    }

    public func namespaceLabels(_ name: String) async throws -> [String: String]? {
        guard let labels = try await containerdNamespaces(lookingFor: name)[name] else { return nil }
        guard name == configuration.defaultNamespace || labels["openfaas"] == "1" || labels["openfaas"] == "true"
        else { return nil }
        return labels
    }

    public func createNamespace(_ name: String, labels: [String: String]) async throws {
        try ResourceName.validate(name, what: "namespace")
        defer { forgetNamespaces() }
        try await ctr.createNamespace(name, labels: labels)
    }

    public func updateNamespace(_ name: String, labels: [String: String]) async throws {
        try ResourceName.validate(name, what: "namespace")
        guard let current = try await ctr.namespaces()[name] else {
            throw FunctionRuntimeError.notFound("namespace \(name) not found")
        }
        // An empty value removes a containerd label.
        var replaced = labels
        for key in current.keys where labels[key] == nil { replaced[key] = "" }
        defer { forgetNamespaces() }
        try await ctr.labelNamespace(name, labels: replaced)
    }

    public func deleteNamespace(_ name: String) async throws {
        guard supervisors.withLock({ !$0.keys.contains { $0.hasPrefix(name + "/") } }) else {
            throw FunctionRuntimeError.invalid("namespace \(name) still has functions; remove them first")
        }
        defer { forgetNamespaces() }
        try await ctr.deleteNamespace(name)
    }

    public func endpoints(name: String, namespace: String) -> [ReplicaEndpoint] {
        endpointTable.get(namespace, name)
    }

    public func acquireEndpoint(name: String, namespace: String, waitingUpTo timeout: Duration) async throws
        -> (endpoint: ReplicaEndpoint, waited: Bool)
    {
        // The path of nearly every call: no suspension, no process, one lock.
        if let ready = endpointTable.acquire(namespace, name) { return (ready, false) }
        let deadline = ContinuousClock.now + timeout
        try await supervisor(name, namespace).wake(deadline: deadline)
        guard let endpoint = await endpointTable.acquire(namespace, name, deadline: deadline) else {
            throw FunctionRuntimeError.timedOut("no replica of \(name) became ready within \(timeout)")
        }
        return (endpoint, true)
    }

    public func releaseEndpoint(_ endpoint: ReplicaEndpoint) { endpointTable.release(endpoint) }

    public func logs(_ query: LogQuery) async throws -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        _ = try supervisor(query.name, query.namespace)
        return try logs.read(query)
    }

    // MARK: Images

    /// Keeps a prune from removing the definition's image until `body` has made the function use it.
    private func holdingImage(of definition: FunctionDefinition, _ body: () async throws -> Void) async throws {
        let key = ImageLeases.key(definition.namespace, definition.image)
        await imageLeases.acquire(key)
        do {
            try await body()
        } catch {
            await imageLeases.release(key)
            throw error
        }
        await imageLeases.release(key)
    }

    /// This daemon's functions per image name (normalised as containerd names images) in one namespace.
    private func imageUsers(_ namespace: String) async throws -> [String: [String]] {
        var users: [String: [String]] = [:]
        for status in try await list(namespace: namespace) {
            let image = (try? ImageReference(parsing: status.definition.image).description) ?? status.definition.image
            users[image, default: []].append(status.definition.name)
        }
        return users
    }

    /// The images in a function namespace, with their sizes and the functions that use them.
    public func images(namespace: String) async throws -> [ImageSummary] {
        let inventory = try await ImageInventory.read(namespace, ctr: ctr)
        let users = try await imageUsers(namespace)
        return inventory.entries.map { inventory.describe($0, functions: users[$0.name] ?? []) }
    }

    /// Removes the images of a namespace that no function of this daemon, no container and no deploy in
    /// progress uses, oldest build first, as far as `filter` allows.
    public func pruneImages(namespace: String, filter: ImagePruneFilter) async throws -> ImagePruneSummary {
        try await imageLeases.exclusively { [self] leased in
            var inventory = try await ImageInventory.read(namespace, ctr: ctr)
            let users = try await imageUsers(namespace)
            let containers = try await ctr.containerImages(namespace)
            let candidates = inventory.entries.map { inventory.describe($0, functions: []) }.filter { image in
                users[image.name] == nil && !containers.contains(image.name)
                    && !leased.contains(ImageLeases.key(namespace, image.name)) && filter.admits(image)
            }
            var report = ImagePruneSummary()
            for candidate in candidates.sorted(by: ImagePruneFilter.oldestFirst) {
                if filter.enough() { break }
                // Measured now: what this image shares only with images already removed is its own by now.
                guard let entry = inventory.entries.first(where: { $0.name == candidate.name }) else { continue }
                let removed = inventory.describe(entry, functions: [])
                try await ctr.removeImage(namespace, candidate.name)
                inventory.entries.removeAll { $0.name == candidate.name }
                report.removed.append(removed)
                report.reclaimedBytes += removed.uniqueSize
            }
            return report
        }
    }

    /// The namespaces whose images this daemon looks after on its own: the default one and those its functions
    /// live in (another Skiff instance on the same containerd keeps to its own).
    public func managedNamespaces() -> [String] {
        let used = supervisors.withLock { $0.keys.compactMap { $0.split(separator: "/").first.map(String.init) } }
        return Set(used + [configuration.defaultNamespace]).sorted()
    }

    /// Imports an OCI image archive into a namespace (air-gapped devices; tests). Returns the image names.
    public func importImage(archive: String, namespace: String) async throws -> [String] {
        try await images.importArchive(archive, namespace: namespace)
    }

    /// Projects a secret's new value into every replica that uses it; each sees the swap at once and whole.
    public func secretChanged(namespace: String, name: String) async {
        let base = "\(configuration.stateDirectory)/replicas/\(namespace)"
        for id in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            do {
                try secrets.reproject(namespace: namespace, name: name, in: "\(base)/\(id)/secrets")
            } catch {
                logger.warning("cannot update secret \(name) in replica \(id): \(error)")
            }
        }
    }

    private func requireNamespace(_ namespace: String) async throws {
        guard try await namespaces().contains(namespace) else {
            throw FunctionRuntimeError.invalid(
                "namespace \(namespace) is not a function namespace; create it with label openfaas=1 "
                    + "(`ctr namespaces create \(namespace) openfaas=1`)")
        }
    }

    private func requireSecrets(_ definition: FunctionDefinition) throws {
        for name in definition.secrets where !secrets.exists(namespace: definition.namespace, name: name) {
            throw FunctionRuntimeError.invalid(
                "secret \(name) does not exist in namespace \(definition.namespace); create it first")
        }
    }
}
