import SkiffRuntime

/// Body of POST and PUT /system/functions, as faas-cli and the OpenFaaS SDK send it. Unknown keys (`network`,
/// `registryAuth`) are ignored and `null` is accepted wherever Go would accept it.
struct FunctionDeployment: Decodable, Sendable {
    var service: String
    var image: String
    var namespace: String?
    var envProcess: String?
    var envVars: [String: String]?
    var constraints: [String]?
    var secrets: [String]?
    var labels: [String: String]?
    var annotations: [String: String]?
    var limits: FunctionResources?
    var requests: FunctionResources?
    var readOnlyRootFilesystem: Bool?

    func definition(defaultNamespace: String) -> FunctionDefinition {
        FunctionDefinition(
            name: service, namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? defaultNamespace, image: image,
            envProcess: envProcess.flatMap { $0.isEmpty ? nil : $0 }, envVars: envVars ?? [:],
            labels: labels ?? [:], annotations: annotations ?? [:], secrets: secrets ?? [],
            limits: limits?.runtime, requests: requests?.runtime,
            readOnlyRootFilesystem: readOnlyRootFilesystem ?? false, constraints: constraints ?? [])
    }
}

struct FunctionResources: Codable, Sendable, Equatable {
    var memory: String?
    var cpu: String?

    var runtime: FunctionDefinition.Resources? {
        let memory = memory.flatMap { $0.isEmpty ? nil : $0 }
        let cpu = cpu.flatMap { $0.isEmpty ? nil : $0 }
        return memory == nil && cpu == nil ? nil : FunctionDefinition.Resources(memory: memory, cpu: cpu)
    }
}

/// Body of DELETE /system/functions.
struct DeleteFunctionRequest: Decodable, Sendable {
    var functionName: String
    var namespace: String?
}

/// Body of POST /system/scale-function/NAME. The key is `serviceName` (a body using `service` names nothing).
struct ScaleServiceRequest: Decodable, Sendable {
    var serviceName: String?
    var replicas: Int
    var namespace: String?
}

/// Body of the /system/secrets verbs; lists carry only `name` and `namespace`.
struct SecretBody: Codable, Sendable {
    var name: String?
    var namespace: String?
    var value: String?
    /// base64 (Go's []byte); wins over `value` when non-empty.
    var rawValue: String?
}

struct SecretListItem: Encodable, Sendable {
    var name: String
    var namespace: String
}

struct FunctionNamespace: Codable, Sendable {
    var name: String?
    var labels: [String: String]?
    var annotations: [String: String]?
}
