import SkiffAPI
import SkiffImage

/// What a function is: everything a deploy or update says about it. The gateway's wire models map onto this;
/// the runtime records it durably and builds containers from it.
public struct FunctionDefinition: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    /// As the user gave it; normalised with `ImageReference` when resolved.
    public var image: String
    public var envProcess: String?
    public var envVars: [String: String]
    public var labels: [String: String]
    public var annotations: [String: String]
    public var secrets: [String]
    public var limits: Resources?
    public var requests: Resources?
    public var readOnlyRootFilesystem: Bool
    public var constraints: [String]

    public init(
        name: String, namespace: String = "openfaas-fn", image: String, envProcess: String? = nil,
        envVars: [String: String] = [:], labels: [String: String] = [:], annotations: [String: String] = [:],
        secrets: [String] = [], limits: Resources? = nil, requests: Resources? = nil,
        readOnlyRootFilesystem: Bool = false, constraints: [String] = []
    ) {
        self.name = name
        self.namespace = namespace
        self.image = image
        self.envProcess = envProcess
        self.envVars = envVars
        self.labels = labels
        self.annotations = annotations
        self.secrets = secrets
        self.limits = limits
        self.requests = requests
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.constraints = constraints
    }

    /// Kubernetes-style quantities, kept as given so that describe echoes them back.
    public struct Resources: Codable, Sendable, Equatable {
        public var memory: String?
        public var cpu: String?

        public init(memory: String? = nil, cpu: String? = nil) {
            self.memory = memory
            self.cpu = cpu
        }
    }

    /// Checks everything that can be checked without containerd; every message says what to change.
    public func validate() throws(FunctionRuntimeError) {
        try ResourceName.validate(name, what: "function name")
        try ResourceName.validate(namespace, what: "namespace")
        for secret in secrets { try ResourceName.validate(secret, what: "secret name") }
        do {
            _ = try ImageReference(parsing: image)
        } catch {
            throw .invalid(error.description)
        }
        if let memory = limits?.memory { _ = try Quantity.memoryBytes(memory, field: "limits.memory") }
        if let cpu = limits?.cpu { _ = try Quantity.milliCPU(cpu, field: "limits.cpu") }
        if let memory = requests?.memory { _ = try Quantity.memoryBytes(memory, field: "requests.memory") }
        if let cpu = requests?.cpu { _ = try Quantity.milliCPU(cpu, field: "requests.cpu") }
        for key in annotations.keys where labels[FunctionDefinition.annotationPrefix + key] != nil {
            throw .invalid("annotation '\(key)' collides with label '\(FunctionDefinition.annotationPrefix + key)'")
        }
        for key in envVars.keys where key.isEmpty || key.contains("=") || key.contains("\0") {
            throw .invalid("environment variable name '\(key)' must be non-empty and contain no '=' or NUL")
        }
        _ = try RuntimeSpec.labelledPidsLimit(labels)
        for (key, limit) in Self.durationSettings {
            if let text = envVars[key] { _ = try GoDuration.parse(text, field: "envVars.\(key)", atMost: limit) }
        }
    }

    /// The environment settings that the gateway, the runtime or the watchdogs read as Go durations, and the
    /// most each may be. Checked at deploy so that a bad value is a 400 then, never a failure at invocation.
    public static let durationSettings: [(key: String, limit: Duration)] = [
        ("exec_timeout", GoDuration.timeoutLimit), ("write_timeout", GoDuration.timeoutLimit),
        ("read_timeout", GoDuration.timeoutLimit), ("upstream_timeout", GoDuration.timeoutLimit),
        ("healthcheck_interval", GoDuration.timeoutLimit), ("grace_period", GoDuration.gracePeriodLimit),
    ]

    /// faasd stores each annotation as a containerd label under this prefix.
    public static let annotationPrefix = "com.openfaas.annotations."
}
