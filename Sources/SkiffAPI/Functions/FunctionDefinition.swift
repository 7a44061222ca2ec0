/// What a function is: everything a deploy or update says about it. This one model is the runtime's durable
/// record, the body of a deploy (``FunctionDeployment``) and the core of what list and describe answer
/// (``FunctionSummary``): the gateway encodes it, the CLI decodes it, and its fields are written down only here.
///
/// On the wire it is encoded as Go's encoding/json with `omitempty` would (empty strings, maps and slices left
/// out), except `labels` and `annotations`, which faasd always sends as objects and dashboards index into. It
/// decodes Go's `null` and absent keys alike; unknown keys (`network`, `registryAuth`) are ignored.
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
    public var limits: FunctionResources?
    public var requests: FunctionResources?
    public var readOnlyRootFilesystem: Bool
    public var constraints: [String]

    public init(
        name: String, namespace: String = "openfaas-fn", image: String, envProcess: String? = nil,
        envVars: [String: String] = [:], labels: [String: String] = [:], annotations: [String: String] = [:],
        secrets: [String] = [], limits: FunctionResources? = nil, requests: FunctionResources? = nil,
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

    /// Every key of the OpenFaaS function bodies: the definition's, the deploy body's `service`, and what list
    /// and describe add.
    enum Key: String, CodingKey {
        case name, service, image, namespace, envProcess, envVars, constraints, secrets, labels, annotations
        case limits, requests, readOnlyRootFilesystem
        case invocationCount, replicas, availableReplicas, createdAt, usage
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder.container(keyedBy: Key.self), nameKey: .name)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try encode(to: &container, nameKey: .name)
    }

    /// `nameKey` is `name` in the record and in list and describe, `service` in a deploy body. An empty string
    /// reads as absent (faas-cli sends `"envProcess": ""`), so an empty namespace is "not given".
    init(from container: KeyedDecodingContainer<Key>, nameKey: Key) throws {
        func given(_ key: Key) throws -> String? {
            try container.decodeIfPresent(String.self, forKey: key).flatMap { $0.isEmpty ? nil : $0 }
        }
        name = try container.decode(String.self, forKey: nameKey)
        image = try container.decode(String.self, forKey: .image)
        namespace = try given(.namespace) ?? ""
        envProcess = try given(.envProcess)
        envVars = try container.decodeIfPresent([String: String].self, forKey: .envVars) ?? [:]
        constraints = try container.decodeIfPresent([String].self, forKey: .constraints) ?? []
        secrets = try container.decodeIfPresent([String].self, forKey: .secrets) ?? []
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        limits = try container.decodeIfPresent(FunctionResources.self, forKey: .limits)?.nonEmpty
        requests = try container.decodeIfPresent(FunctionResources.self, forKey: .requests)?.nonEmpty
        readOnlyRootFilesystem = try container.decodeIfPresent(Bool.self, forKey: .readOnlyRootFilesystem) ?? false
    }

    func encode(to container: inout KeyedEncodingContainer<Key>, nameKey: Key) throws {
        try container.encode(name, forKey: nameKey)
        try container.encode(image, forKey: .image)
        if !namespace.isEmpty { try container.encode(namespace, forKey: .namespace) }
        if let envProcess, !envProcess.isEmpty { try container.encode(envProcess, forKey: .envProcess) }
        if !envVars.isEmpty { try container.encode(envVars, forKey: .envVars) }
        if !constraints.isEmpty { try container.encode(constraints, forKey: .constraints) }
        if !secrets.isEmpty { try container.encode(secrets, forKey: .secrets) }
        try container.encode(labels, forKey: .labels)
        try container.encode(annotations, forKey: .annotations)
        try container.encodeIfPresent(limits?.nonEmpty, forKey: .limits)
        try container.encodeIfPresent(requests?.nonEmpty, forKey: .requests)
        if readOnlyRootFilesystem { try container.encode(true, forKey: .readOnlyRootFilesystem) }
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

/// Kubernetes-style quantities (`128Mi`, `500m`), kept as given so that describe echoes them back.
public struct FunctionResources: Codable, Sendable, Equatable {
    public var memory: String?
    public var cpu: String?

    public init(memory: String? = nil, cpu: String? = nil) {
        self.memory = memory
        self.cpu = cpu
    }

    /// Empty strings dropped; nil when nothing is left.
    var nonEmpty: FunctionResources? {
        let memory = memory.flatMap { $0.isEmpty ? nil : $0 }
        let cpu = cpu.flatMap { $0.isEmpty ? nil : $0 }
        return memory == nil && cpu == nil ? nil : FunctionResources(memory: memory, cpu: cpu)
    }
}
