import Foundation
import SkiffAPI
import SkiffContainerd
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
    let secrets: SecretStore
    let ctr: Ctr
    let images: ImageStore
    let lifecycle: ReplicaLifecycle
    let probe: ReadinessProbe
    let endpointTable = EndpointTable()
    /// Crashed replicas' restarts, due after their back-off; run by ``run()``.
    let restarts = DeadlineScheduler(clock: ContinuousClock())
    let desiredState: DesiredState
    let logs: FunctionLogs
    let logger: Logger
    public let definitionChanges = ChangeSignal()
    let supervisors = Mutex<[String: FunctionSupervisor]>([:])
    /// See ``containerdNamespaces(lookingFor:)``.
    private let namespaceCache = Mutex<[String: [String: String]]?>(nil)
    /// Names being deployed right now, so two concurrent deploys of one name cannot both succeed.
    let reserved = Mutex<Set<String>>([])
    let imageLeases = ImageLeases()

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
            secrets: secrets, logs: logs, loops: group)
    }

    /// The bridge's address: where functions reach the gateway (`gateway` in their /etc/hosts).
    public var gatewayAddress: String { subnet.gatewayAddress }

    /// /etc/hosts and /etc/resolv.conf for functions; rewritten in place because they are bind-mounted.
    func writeMountedFiles() throws {
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

    func makeSupervisor(_ record: FunctionRecord, image: ResolvedImage) -> FunctionSupervisor {
        FunctionSupervisor(
            record: record, image: image, lifecycle: lifecycle, probe: probe, endpointTable: endpointTable,
            desiredState: desiredState, restarts: restarts, logger: logger,
            resolveImage: { [self] in try await resolve($0) })
    }

    func resolve(_ definition: FunctionDefinition) async throws -> ResolvedImage {
        try await images.resolve(
            definition.image, namespace: definition.namespace, otherNamespaces: [configuration.defaultNamespace])
    }

    func supervisor(_ name: String, _ namespace: String) throws -> FunctionSupervisor {
        guard let supervisor = supervisors.withLock({ $0[EndpointTable.key(namespace, name)] }) else {
            throw FunctionRuntimeError.functionNotFound(name, namespace: namespace)
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
            throw FunctionRuntimeError.functionExists(definition.name, namespace: definition.namespace)
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
        definitionChanges.notify()
        logger.info(
            "deployed \(definition.name).\(definition.namespace) with \(replicas) replicas",
            ["function": definition.name, "namespace": definition.namespace, "image": definition.image])
    }

    public func update(_ definition: FunctionDefinition) async throws {
        let supervisor = try supervisor(definition.name, definition.namespace)
        try definition.validate()
        try requireSecrets(definition)
        try await holdingImage(of: definition) {
            let image = try await resolve(definition)
            let generation = RandomName.make(length: 8)
            try await uncancelled { try await supervisor.update(definition, image: image, generation: generation) }
        }
        definitionChanges.notify()
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
        definitionChanges.notify()
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

    public func usage(_ status: FunctionStatus) -> FunctionSummary.Usage { CgroupUsage.measure(status) }

    public func logs(_ query: LogQuery) async throws -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        _ = try supervisor(query.name, query.namespace)
        return try logs.read(query)
    }

    public func secretNames(namespace: String) async throws -> [String] {
        try await requireNamespace(namespace)
        return try secrets.names(namespace: namespace)
    }

    public func writeSecret(namespace: String, name: String, value: [UInt8], replacing: Bool) async throws {
        try ResourceName.validate(name, what: "secret name")
        try await requireNamespace(namespace)
        let exists = secrets.exists(namespace: namespace, name: name)
        if replacing && !exists { throw FunctionRuntimeError.secretNotFound(name, namespace: namespace) }
        if !replacing && exists { throw FunctionRuntimeError.secretExists(name, namespace: namespace) }
        try secrets.write(namespace: namespace, name: name, value: value)
        if replacing { reprojectSecret(namespace: namespace, name: name) }
    }

    public func deleteSecret(namespace: String, name: String) async throws {
        try ResourceName.validate(name, what: "secret name")
        try await requireNamespace(namespace)
        guard secrets.exists(namespace: namespace, name: name) else {
            throw FunctionRuntimeError.secretNotFound(name, namespace: namespace)
        }
        let users = await listAll().map(\.definition).filter { $0.namespace == namespace && $0.secrets.contains(name) }
        guard users.isEmpty else {
            throw FunctionRuntimeError.secretInUse(name, namespace: namespace, by: users.map(\.name).sorted())
        }
        try secrets.delete(namespace: namespace, name: name)
    }

    /// Projects a secret's new value into every replica that uses it; each sees the swap at once and whole.
    private func reprojectSecret(namespace: String, name: String) {
        let base = "\(configuration.stateDirectory)/replicas/\(namespace)"
        for id in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            do {
                try secrets.reproject(namespace: namespace, name: name, in: "\(base)/\(id)/secrets")
            } catch {
                logger.warning("cannot update secret \(name) in replica \(id): \(error)")
            }
        }
    }

    /// From the namespace cache (read again only when the name is not in it): a deploy the gateway has just
    /// validated costs no second `ctr namespaces ls`.
    private func requireNamespace(_ namespace: String) async throws {
        guard ResourceName.isValid(namespace), try await namespaceLabels(namespace) != nil else {
            throw FunctionRuntimeError.namespaceNotValid(namespace)
        }
    }

    private func requireSecrets(_ definition: FunctionDefinition) throws {
        for name in definition.secrets where !secrets.exists(namespace: definition.namespace, name: name) {
            throw FunctionRuntimeError.secretMissing(name, namespace: definition.namespace)
        }
    }
}
