import Synchronization

/// Ready replicas per function, readable without suspension on every invocation. Supervisors publish; the
/// gateway reads.
final class EndpointTable: Sendable {
    private let table = Mutex<[String: [ReplicaEndpoint]]>([:])

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    func get(_ namespace: String, _ name: String) -> [ReplicaEndpoint] {
        table.withLock { $0[Self.key(namespace, name)] ?? [] }
    }

    func set(_ namespace: String, _ name: String, _ endpoints: [ReplicaEndpoint]) {
        table.withLock { $0[Self.key(namespace, name)] = endpoints.isEmpty ? nil : endpoints }
    }
}
