/// A function as GET /system/functions and /system/function/NAME answer it: its definition and what the gateway
/// knows of it now. The gateway encodes it and the CLI decodes it. `replicas` and `availableReplicas` are always
/// present, and so is `createdAt`, which Go never omits.
public struct FunctionSummary: Codable, Sendable, Equatable {
    public struct Usage: Codable, Sendable, Equatable {
        public var cpu: Double?
        public var totalMemoryBytes: Double?

        public init(cpu: Double?, totalMemoryBytes: Double?) {
            self.cpu = cpu
            self.totalMemoryBytes = totalMemoryBytes
        }
    }

    public var definition: FunctionDefinition
    public var invocationCount: Double
    public var replicas: Int
    public var availableReplicas: Int
    /// RFC 3339 with nanoseconds, as Go's time.Time marshals; kept as text because the CLI only shows it.
    public var createdAt: String
    /// Only when describe is asked for it (`?usage=1`).
    public var usage: Usage?

    public init(
        definition: FunctionDefinition, invocationCount: Double, replicas: Int, availableReplicas: Int,
        createdAt: String, usage: Usage? = nil
    ) {
        self.definition = definition
        self.invocationCount = invocationCount
        self.replicas = replicas
        self.availableReplicas = availableReplicas
        self.createdAt = createdAt
        self.usage = usage
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FunctionDefinition.Key.self)
        definition = try FunctionDefinition(from: container, nameKey: .name)
        invocationCount = try container.decodeIfPresent(Double.self, forKey: .invocationCount) ?? 0
        replicas = try container.decodeIfPresent(Int.self, forKey: .replicas) ?? 0
        availableReplicas = try container.decodeIfPresent(Int.self, forKey: .availableReplicas) ?? 0
        createdAt = try container.decodeIfPresent(String.self, forKey: .createdAt) ?? ""
        usage = try container.decodeIfPresent(Usage.self, forKey: .usage)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FunctionDefinition.Key.self)
        try definition.encode(to: &container, nameKey: .name)
        if invocationCount > 0 { try container.encode(invocationCount, forKey: .invocationCount) }
        try container.encode(replicas, forKey: .replicas)
        try container.encode(availableReplicas, forKey: .availableReplicas)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(usage, forKey: .usage)
    }
}

/// GET /system/info. faas-cli's `version` dereferences `provider` and `provider.version` without checks, so
/// the gateway always sends both as objects.
public struct GatewayInfo: Codable, Sendable {
    public struct Version: Codable, Sendable {
        public var sha: String
        public var release: String
    }

    public struct Provider: Codable, Sendable {
        public var provider = "skiff"
        public var orchestration = "containerd"
        public var version: Version
    }

    /// Where Skiff's NATS-compatible broker listens (`nats://HOST:PORT`) and how clients authenticate (`none`,
    /// `token` or `user`); absent when the broker is off. A Skiff extension: faas-cli ignores it.
    public struct Broker: Codable, Sendable, Equatable {
        public var url: String
        public var auth: String

        public init(url: String, auth: String) {
            self.url = url
            self.auth = auth
        }
    }

    public var provider: Provider
    public var version: Version
    public var arch: String
    public var nats: Broker?

    public init(release: String, sha: String, nats: Broker? = nil) {
        self.nats = nats
        let version = Version(sha: sha, release: release)
        provider = Provider(version: version)
        self.version = version
        #if arch(arm64)
            arch = "arm64"
        #else
            arch = "amd64"
        #endif
    }
}

/// One line of GET /system/logs.
public struct LogMessage: Codable, Sendable {
    public var name: String
    public var namespace: String
    public var instance: String
    public var timestamp: String
    public var text: String

    public init(name: String, namespace: String, instance: String, timestamp: String, text: String) {
        self.name = name
        self.namespace = namespace
        self.instance = instance
        self.timestamp = timestamp
        self.text = text
    }
}
