/// The OpenFaaS gateway API's request and answer bodies, shared by the gateway (which decodes requests) and
/// the skiff CLI (which sends them). Optional fields decode Go's `null` and absent keys alike.

/// Body of POST and PUT /system/functions, as faas-cli and the OpenFaaS SDK send it. Unknown keys (`network`,
/// `registryAuth`) are ignored.
public struct FunctionDeployment: Codable, Sendable, Equatable {
    public var service: String
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

    public init(service: String, image: String) {
        self.service = service
        self.image = image
    }
}

public struct FunctionResources: Codable, Sendable, Equatable {
    public var memory: String?
    public var cpu: String?

    public init(memory: String? = nil, cpu: String? = nil) {
        self.memory = memory
        self.cpu = cpu
    }
}

/// Body of DELETE /system/functions.
public struct DeleteFunctionRequest: Codable, Sendable {
    public var functionName: String
    public var namespace: String?

    public init(functionName: String, namespace: String?) {
        self.functionName = functionName
        self.namespace = namespace
    }
}

/// Body of POST /system/scale-function/NAME. The key is `serviceName` (a body using `service` names nothing).
public struct ScaleServiceRequest: Codable, Sendable {
    public var serviceName: String?
    public var replicas: Int
    public var namespace: String?

    public init(serviceName: String?, replicas: Int, namespace: String?) {
        self.serviceName = serviceName
        self.replicas = replicas
        self.namespace = namespace
    }
}

/// Body of the /system/secrets verbs; lists carry only `name` and `namespace`.
public struct SecretBody: Codable, Sendable {
    public var name: String?
    public var namespace: String?
    public var value: String?
    /// base64 (Go's []byte); wins over `value` when non-empty.
    public var rawValue: String?

    public init(name: String?, namespace: String?, value: String? = nil, rawValue: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.value = value
        self.rawValue = rawValue
    }
}

public struct SecretListItem: Codable, Sendable {
    public var name: String
    public var namespace: String?

    public init(name: String, namespace: String?) {
        self.name = name
        self.namespace = namespace
    }
}

public struct FunctionNamespace: Codable, Sendable {
    public var name: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?

    public init(name: String?, labels: [String: String]?, annotations: [String: String]?) {
        self.name = name
        self.labels = labels
        self.annotations = annotations
    }
}
