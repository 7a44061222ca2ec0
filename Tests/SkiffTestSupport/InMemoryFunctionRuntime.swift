import Foundation
import Glibc
import SkiffAPI
import SkiffHTTP
import SkiffPOSIX
import SkiffRuntime
import Synchronization

/// A `FunctionRuntime` with no containerd, no root and no network beyond loopback: each replica is an HTTP server
/// of the engine on 127.0.0.1, answering with the test's responder. It lets gateway routes and the proxy's paths
/// (scale from zero, timeouts, unreachable and never-ready replicas) run in milliseconds on any machine; the
/// real-container suites stay for what only containerd can show.
///
/// Labels steer a function's replicas: `test.unreachable=true` publishes a port nothing listens on (502),
/// `test.never-ready=true` never publishes one (503 after the cold-start wait).
public final class InMemoryFunctionRuntime: FunctionRuntime {
    public let definitionChanges = ChangeSignal()
    public static let unreachableLabel = "test.unreachable"
    public static let neverReadyLabel = "test.never-ready"

    private struct Function {
        var definition: FunctionDefinition
        var replicas: Int
        var createdAt: Date
        var servers: [HTTPServer] = []
        var endpoints: [ReplicaEndpoint] = []
        /// The ports of unreachable replicas, held for the function's life so that no other server takes them.
        var refusing: [RefusingPort] = []
    }

    private struct State {
        var functions: [String: Function] = [:]
        var namespaces: [String: [String: String]]
        /// Values by namespace, then name.
        var secrets: [String: [String: [UInt8]]] = [:]
        var inFlight: [String: Int] = [:]
        /// Releases of a replica that had no request counted: a caller released twice.
        var unbalancedReleases = 0
        var serial = 0
    }

    private let state: Mutex<State>
    private let group: EventLoopGroup
    private let responder: @Sendable (FunctionDefinition) -> any HTTPResponder
    public let defaultNamespace: String

    /// `responder` makes what every replica of a function answers.
    public init(
        group: EventLoopGroup, defaultNamespace: String = "openfaas-fn",
        responder: @escaping @Sendable (FunctionDefinition) -> any HTTPResponder
    ) {
        self.group = group
        self.defaultNamespace = defaultNamespace
        self.responder = responder
        state = Mutex(State(namespaces: [defaultNamespace: ["openfaas": "1"]]))
    }

    private static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    /// Servers for `count` replicas (none for a never-ready function; a closed port for an unreachable one).
    private func startReplicas(_ definition: FunctionDefinition, count: Int) async throws -> Replicas {
        var replicas = Replicas()
        if definition.labels[Self.neverReadyLabel] == "true" { return replicas }
        for _ in 0..<count {
            let port: Int
            if definition.labels[Self.unreachableLabel] == "true" {
                let refusing = try RefusingPort()
                replicas.refusing.append(refusing)
                port = refusing.port
            } else {
                let server = HTTPServer(
                    configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: group,
                    responder: responder(definition))
                port = try await server.start()[0].port
                replicas.servers.append(server)
            }
            let id = state.withLock { state -> String in
                state.serial += 1
                return "\(definition.name)-\(state.serial)"
            }
            replicas.endpoints.append(ReplicaEndpoint(id: id, host: "127.0.0.1", port: port))
        }
        return replicas
    }

    private struct Replicas {
        var servers: [HTTPServer] = []
        var endpoints: [ReplicaEndpoint] = []
        var refusing: [RefusingPort] = []
    }

    private func stop(_ servers: [HTTPServer]) async {
        for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    private func function(_ name: String, _ namespace: String) throws -> Function {
        guard let function = state.withLock({ $0.functions[Self.key(namespace, name)] }) else {
            throw FunctionRuntimeError.functionNotFound(name, namespace: namespace)
        }
        return function
    }

    // MARK: FunctionRuntime

    public func deploy(_ definition: FunctionDefinition, replicas: Int) async throws {
        try definition.validate()
        try requireNamespace(definition.namespace)
        try requireSecrets(definition)
        let key = Self.key(definition.namespace, definition.name)
        guard state.withLock({ $0.functions[key] == nil }) else {
            throw FunctionRuntimeError.functionExists(definition.name, namespace: definition.namespace)
        }
        let started = try await startReplicas(definition, count: replicas)
        state.withLock {
            $0.functions[key] = Function(
                definition: definition, replicas: replicas, createdAt: Date(), servers: started.servers,
                endpoints: started.endpoints, refusing: started.refusing)
        }
        definitionChanges.notify()
    }

    public func update(_ definition: FunctionDefinition) async throws {
        let old = try function(definition.name, definition.namespace)
        try definition.validate()
        try requireSecrets(definition)
        let started = try await startReplicas(definition, count: old.replicas)
        state.withLock {
            $0.functions[Self.key(definition.namespace, definition.name)] = Function(
                definition: definition, replicas: old.replicas, createdAt: old.createdAt, servers: started.servers,
                endpoints: started.endpoints, refusing: started.refusing)
        }
        definitionChanges.notify()
        await stop(old.servers)
    }

    public func scale(name: String, namespace: String, replicas: Int) async throws {
        guard replicas >= 0 else { throw FunctionRuntimeError.invalid("replicas must be 0 or more") }
        let old = try function(name, namespace)
        let started = try await startReplicas(old.definition, count: replicas)
        state.withLock {
            $0.functions[Self.key(namespace, name)]?.replicas = replicas
            $0.functions[Self.key(namespace, name)]?.servers = started.servers
            $0.functions[Self.key(namespace, name)]?.endpoints = started.endpoints
            $0.functions[Self.key(namespace, name)]?.refusing = started.refusing
        }
        await stop(old.servers)
    }

    public func remove(name: String, namespace: String) async throws {
        let old = try function(name, namespace)
        state.withLock { _ = $0.functions.removeValue(forKey: Self.key(namespace, name)) }
        definitionChanges.notify()
        await stop(old.servers)
    }

    public func status(name: String, namespace: String) async throws -> FunctionStatus {
        Self.status(try function(name, namespace))
    }

    private static func status(_ function: Function) -> FunctionStatus {
        FunctionStatus(
            definition: function.definition, resolvedImage: function.definition.image, replicas: function.replicas,
            availableReplicas: function.endpoints.count, createdAt: function.createdAt,
            instances: function.endpoints.map { ReplicaStatus(id: $0.id, address: $0.host, phase: .ready) })
    }

    public func list(namespace: String) async throws -> [FunctionStatus] {
        state.withLock { $0.functions.values.filter { $0.definition.namespace == namespace } }.map(Self.status)
            .sorted { $0.definition.name < $1.definition.name }
    }

    public func listAll() async -> [FunctionStatus] { state.withLock { Array($0.functions.values) }.map(Self.status) }

    public func namespaces() async throws -> [String] { state.withLock { $0.namespaces.keys.sorted() } }

    public func namespaceLabels(_ name: String) async throws -> [String: String]? {
        state.withLock { $0.namespaces[name] }
    }

    public func createNamespace(_ name: String, labels: [String: String]) async throws {
        state.withLock { $0.namespaces[name] = labels }
    }

    public func updateNamespace(_ name: String, labels: [String: String]) async throws {
        state.withLock { $0.namespaces[name] = labels }
    }

    public func deleteNamespace(_ name: String) async throws {
        _ = state.withLock { $0.namespaces.removeValue(forKey: name) }
    }

    public func images(namespace: String) async throws -> [ImageSummary] { [] }

    public func pruneImages(namespace: String, filter: ImagePruneFilter) async throws -> ImagePruneSummary {
        ImagePruneSummary()
    }

    public func secretNames(namespace: String) async throws -> [String] {
        try requireNamespace(namespace)
        return state.withLock { $0.secrets[namespace, default: [:]].keys.sorted() }
    }

    public func writeSecret(namespace: String, name: String, value: [UInt8], replacing: Bool) async throws {
        try ResourceName.validate(name, what: "secret name")
        try requireNamespace(namespace)
        try state.withLock { state throws(FunctionRuntimeError) in
            let exists = state.secrets[namespace]?[name] != nil
            if replacing && !exists { throw .secretNotFound(name, namespace: namespace) }
            if !replacing && exists { throw .secretExists(name, namespace: namespace) }
            state.secrets[namespace, default: [:]][name] = value
        }
    }

    public func deleteSecret(namespace: String, name: String) async throws {
        try requireNamespace(namespace)
        try state.withLock { state throws(FunctionRuntimeError) in
            guard state.secrets[namespace]?[name] != nil else { throw .secretNotFound(name, namespace: namespace) }
            let users = state.functions.values.map(\.definition)
                .filter { $0.namespace == namespace && $0.secrets.contains(name) }.map(\.name).sorted()
            guard users.isEmpty else { throw .secretInUse(name, namespace: namespace, by: users) }
            state.secrets[namespace]?[name] = nil
        }
    }

    /// A secret's value, as a replica would read it from its file.
    public func secretValue(namespace: String, name: String) -> [UInt8]? {
        state.withLock { $0.secrets[namespace]?[name] }
    }

    private func requireNamespace(_ namespace: String) throws(FunctionRuntimeError) {
        guard state.withLock({ $0.namespaces[namespace] != nil }) else { throw .namespaceNotValid(namespace) }
    }

    private func requireSecrets(_ definition: FunctionDefinition) throws(FunctionRuntimeError) {
        let known = state.withLock { $0.secrets[definition.namespace, default: [:]] }
        for name in definition.secrets where known[name] == nil {
            throw .secretMissing(name, namespace: definition.namespace)
        }
    }

    public func endpoints(name: String, namespace: String) -> [ReplicaEndpoint] {
        state.withLock { $0.functions[Self.key(namespace, name)]?.endpoints ?? [] }
    }

    /// As the real runtime: the fast path takes a published replica; a function at zero is scaled to one. A
    /// never-ready function waits out `timeout` (on a sleep: this is a test double) and times out.
    public func acquireEndpoint(name: String, namespace: String, waitingUpTo timeout: Duration) async throws
        -> (endpoint: ReplicaEndpoint, waited: Bool)
    {
        let function = try function(name, namespace)
        if let endpoint = take(function.endpoints) { return (endpoint, false) }
        if function.replicas == 0 { try await scale(name: name, namespace: namespace, replicas: 1) }
        if let endpoint = take(endpoints(name: name, namespace: namespace)) { return (endpoint, true) }
        try await Task.sleep(for: timeout)
        throw FunctionRuntimeError.timedOut("no replica of \(name) became ready in time")
    }

    private func take(_ endpoints: [ReplicaEndpoint]) -> ReplicaEndpoint? {
        state.withLock { state in
            guard let endpoint = endpoints.min(by: { (state.inFlight[$0.id] ?? 0) < (state.inFlight[$1.id] ?? 0) })
            else { return nil }
            state.inFlight[endpoint.id, default: 0] += 1
            return endpoint
        }
    }

    public func releaseEndpoint(_ endpoint: ReplicaEndpoint) {
        state.withLock { state in
            guard let held = state.inFlight[endpoint.id] else {
                state.unbalancedReleases += 1
                return
            }
            state.inFlight[endpoint.id] = held > 1 ? held - 1 : nil
        }
    }

    /// Requests counted against the function's replicas right now (0 once every answer has been relayed).
    public func requestsInFlight(name: String, namespace: String) -> Int {
        state.withLock { state in
            (state.functions[Self.key(namespace, name)]?.endpoints ?? []).reduce(0) {
                $0 + (state.inFlight[$1.id] ?? 0)
            }
        }
    }

    /// How many releases found nothing to release (each one a double release by a caller).
    public var unbalancedReleases: Int { state.withLock { $0.unbalancedReleases } }

    /// Replicas here are servers in this process: they have no cgroup of their own to measure.
    public func usage(_ status: FunctionStatus) -> FunctionSummary.Usage {
        FunctionSummary.Usage(cpu: 0, totalMemoryBytes: 0)
    }

    public func logs(_ query: LogQuery) async throws -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        _ = try function(query.name, query.namespace)
        return AsyncThrowingStream { $0.finish() }
    }

    /// Stops every replica's server.
    public func shutdown() async {
        let servers = state.withLock { state in state.functions.values.flatMap(\.servers) }
        await stop(servers)
    }
}

/// A loopback port bound but never listening, held until released: a connect to it is refused at once, and no
/// other server can be given the port meanwhile (a port merely closed could be handed out again at any moment).
final class RefusingPort: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", errno: errno) }
        var address = RawHTTP.loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, let local = try? Socket.localAddress(descriptor) else {
            let code = errno
            close(descriptor)
            throw SystemError(call: "bind", errno: code)
        }
        fd = descriptor
        port = local.port
    }

    deinit { close(fd) }
}
