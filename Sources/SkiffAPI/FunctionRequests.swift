/// The OpenFaaS gateway API's request and answer bodies, shared by the gateway (which decodes requests) and
/// the skiff CLI (which sends them). Optional fields decode Go's `null` and absent keys alike.

/// Body of POST and PUT /system/functions, as faas-cli and the OpenFaaS SDK send it: a ``FunctionDefinition``
/// whose name is under `service`, and whose namespace may be left out (the gateway's default then applies).
public struct FunctionDeployment: Codable, Sendable, Equatable {
    /// Its namespace is empty when the body gave none.
    public var function: FunctionDefinition

    public init(_ function: FunctionDefinition) {
        self.function = function
    }

    /// The function, in `defaultNamespace` when the body named none.
    public func definition(defaultNamespace: String) -> FunctionDefinition {
        var definition = function
        if definition.namespace.isEmpty { definition.namespace = defaultNamespace }
        return definition
    }

    public init(from decoder: any Decoder) throws {
        function = try FunctionDefinition(
            from: decoder.container(keyedBy: FunctionDefinition.Key.self), nameKey: .service)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FunctionDefinition.Key.self)
        try function.encode(to: &container, nameKey: .service)
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
