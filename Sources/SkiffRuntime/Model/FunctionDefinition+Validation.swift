import SkiffAPI
import SkiffImage

extension FunctionDefinition {
    /// Checks everything that can be checked without containerd; every message says what to change.
    public func validate() throws(FunctionRuntimeError) {
        if name.contains(".") {
            throw .invalid("function name '\(name)' must not contain '.': it separates the namespace")
        }
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
}
