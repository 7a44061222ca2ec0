/// A function as GET /system/functions and /system/function/NAME answer it, read by the CLI.
public struct FunctionSummary: Codable, Sendable, Equatable {
    public struct Usage: Codable, Sendable, Equatable {
        public var cpu: Double?
        public var totalMemoryBytes: Double?
    }

    public var name: String
    public var image: String
    public var namespace: String?
    public var envProcess: String?
    public var envVars: [String: String]?
    public var constraints: [String]?
    public var secrets: [String]?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var limits: FunctionResources?
    public var requests: FunctionResources?
    public var readOnlyRootFilesystem: Bool?
    public var invocationCount: Double?
    public var replicas: Int?
    public var availableReplicas: Int?
    public var createdAt: String?
    public var usage: Usage?
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

    public var provider: Provider
    public var version: Version
    public var arch: String

    public init(release: String, sha: String) {
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
