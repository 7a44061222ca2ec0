import SkiffAPI
import SkiffRuntime

extension FunctionDeployment {
    func definition(defaultNamespace: String) -> FunctionDefinition {
        FunctionDefinition(
            name: service, namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? defaultNamespace, image: image,
            envProcess: envProcess.flatMap { $0.isEmpty ? nil : $0 }, envVars: envVars ?? [:],
            labels: labels ?? [:], annotations: annotations ?? [:], secrets: secrets ?? [],
            limits: limits?.runtime, requests: requests?.runtime,
            readOnlyRootFilesystem: readOnlyRootFilesystem ?? false, constraints: constraints ?? [])
    }
}

extension FunctionResources {
    var runtime: FunctionDefinition.Resources? {
        let memory = memory.flatMap { $0.isEmpty ? nil : $0 }
        let cpu = cpu.flatMap { $0.isEmpty ? nil : $0 }
        return memory == nil && cpu == nil ? nil : FunctionDefinition.Resources(memory: memory, cpu: cpu)
    }
}
