import Foundation
import SkiffAPI

/// A function as the runtime sees it now: its definition, how many replicas it should have and how many are
/// serving, and each replica's state.
public struct FunctionStatus: Sendable, Equatable {
    public var definition: FunctionDefinition
    /// The image as containerd names it (normalised).
    public var resolvedImage: String
    public var replicas: Int
    public var availableReplicas: Int
    public var createdAt: Date
    public var instances: [ReplicaStatus]

    public init(
        definition: FunctionDefinition, resolvedImage: String, replicas: Int, availableReplicas: Int, createdAt: Date,
        instances: [ReplicaStatus]
    ) {
        self.definition = definition
        self.resolvedImage = resolvedImage
        self.replicas = replicas
        self.availableReplicas = availableReplicas
        self.createdAt = createdAt
        self.instances = instances
    }
}

public struct ReplicaStatus: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable {
        /// Network, snapshot and container exist; no task (a function at zero keeps one of these warm).
        case idle
        /// The task runs; the readiness probe has not passed yet.
        case starting
        case ready
        /// Out of rotation, being signalled.
        case stopping
        /// Exited on its own; a restart is scheduled.
        case crashed
    }

    public var id: String
    public var address: String
    public var phase: Phase
    public var restarts: Int
    /// The last unplanned exit: status and when, for describe and the logs.
    public var lastExit: ExitRecord?

    public init(id: String, address: String, phase: Phase, restarts: Int = 0, lastExit: ExitRecord? = nil) {
        self.id = id
        self.address = address
        self.phase = phase
        self.restarts = restarts
        self.lastExit = lastExit
    }
}

public struct ExitRecord: Sendable, Equatable {
    public var status: Int
    public var at: Date
}

/// Where a ready replica answers; the gateway balances over these.
public struct ReplicaEndpoint: Sendable, Hashable {
    public var id: String
    /// The replica's address on the bridge.
    public var host: String
    public var port: Int
    /// Set when the replica answers on its own loopback: its network namespace (`/run/netns/NAME`), from inside
    /// which the gateway dials ``upstreamHost``. Nil: dial ``host`` over the bridge.
    public var networkNamespace: String?

    public init(id: String, host: String, port: Int, networkNamespace: String? = nil) {
        self.id = id
        self.host = host
        self.port = port
        self.networkNamespace = networkNamespace
    }

    /// Where to connect, from ``networkNamespace`` when it is set.
    public var upstreamHost: String { networkNamespace == nil ? host : "127.0.0.1" }
}
