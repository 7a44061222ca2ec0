import SkiffAPI
import SkiffClient

/// `skiff deploy`: from flags (like `faas-cli deploy --image`) or from a stack file.
enum DeployCommand: ClientCommand {
    static let usage = "skiff deploy -f stack.yml [--filter NAME] | skiff deploy --image IMAGE --name NAME [options]"
    static let summary = "Deploys or updates functions (a rolling update when the function exists)."
    static let options: [Arguments.Option] = deployOptions

    static let deployOptions: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.stack, CommonOptions.filter,
        .value("--image", name: "IMAGE", help: "the image (flag form)"),
        .value("--name", name: "NAME", help: "the function's name (flag form)"),
        .value("--fprocess", name: "CMD", help: "the watchdog's fprocess"),
        .value("--env", "-e", name: "K=V", help: "an environment variable (repeatable)"),
        .value("--label", "-l", name: "K=V", help: "a label (repeatable), e.g. com.openfaas.scale.min=2"),
        .value("--annotation", name: "K=V", help: "an annotation (repeatable)"),
        .value("--secret", name: "NAME", help: "a secret the function reads (repeatable)"),
        .value("--constraint", name: "EXPR", help: "a placement constraint (kept, not used on one node)"),
        .value("--memory-limit", name: "QTY", help: "memory limit, e.g. 128Mi"),
        .value("--cpu-limit", name: "QTY", help: "CPU limit, e.g. 500m"),
        .value("--memory-request", name: "QTY", help: "memory request"),
        .value("--cpu-request", name: "QTY", help: "CPU request"),
        .flag("--readonly", help: "read-only root filesystem"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        try await deploy(arguments, context)
    }

    static func deploy(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let stack = try context.stack(orDefault: arguments.value("--image") == nil)
        var deployments: [FunctionDeployment] = []
        if let stack {
            for function in try context.selectedFunctions(stack.file) {
                deployments.append(
                    try StackFunctions.deployment(
                        function, directory: stack.directory, namespace: arguments.value("--namespace")))
            }
        } else {
            guard let image = arguments.value("--image"), let name = arguments.value("--name") else {
                throw Arguments.UsageError(description: "give -f stack.yml, or --image and --name")
            }
            var limits: FunctionResources?
            if arguments.value("--memory-limit") != nil || arguments.value("--cpu-limit") != nil {
                limits = FunctionResources(
                    memory: arguments.value("--memory-limit"), cpu: arguments.value("--cpu-limit"))
            }
            var requests: FunctionResources?
            if arguments.value("--memory-request") != nil || arguments.value("--cpu-request") != nil {
                requests = FunctionResources(
                    memory: arguments.value("--memory-request"), cpu: arguments.value("--cpu-request"))
            }
            let deployment = FunctionDeployment(
                FunctionDefinition(
                    name: name, namespace: arguments.value("--namespace") ?? "", image: image,
                    envProcess: arguments.value("--fprocess"),
                    envVars: Dictionary(try arguments.pairs("--env")) { _, last in last },
                    labels: Dictionary(try arguments.pairs("--label")) { _, last in last },
                    annotations: Dictionary(try arguments.pairs("--annotation")) { _, last in last },
                    secrets: arguments.values("--secret"), limits: limits, requests: requests,
                    readOnlyRootFilesystem: arguments.isSet("--readonly"), constraints: arguments.values("--constraint")
                ))
            deployments.append(deployment)
        }
        let client = try context.gateway(stack: stack?.file)
        var failed = false
        for deployment in deployments {
            do {
                let outcome = try await client.deploy(deployment)
                let function = deployment.function
                let namespace = function.namespace.isEmpty ? "" : ".\(function.namespace)"
                print(
                    "\(outcome == .created ? "deployed" : "updated"): \(function.name) → "
                        + "\(client.gateway)/function/\(function.name)\(namespace)")
            } catch {
                Console.error("skiff: \(error)")
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}
