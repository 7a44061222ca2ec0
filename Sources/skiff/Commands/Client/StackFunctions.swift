import Foundation
import SkiffAPI
import SkiffBuild
import SkiffContainerd
import SkiffStack

/// What `build`, `deploy` and `up` do with one function of a stack file.
enum StackFunctions {
    /// The deploy request for a stack function: environment files first, then its inline `environment`.
    static func deployment(_ function: StackFile.Function, directory: String, namespace: String?) throws
        -> FunctionDeployment
    {
        guard let image = function.image, !image.isEmpty else {
            throw Arguments.UsageError(description: "functions.\(function.name).image is missing in the stack file")
        }
        var environment: [String: String] = [:]
        for file in function.environmentFiles {
            let path = file.hasPrefix("/") ? file : directory + "/" + file
            environment.merge(try StackFile.environmentFile(path)) { _, later in later }
        }
        environment.merge(function.environment) { _, inline in inline }
        return FunctionDeployment(
            FunctionDefinition(
                name: function.name, namespace: namespace ?? function.namespace ?? "", image: image,
                envProcess: function.fprocess, envVars: environment, labels: function.labels,
                annotations: function.annotations, secrets: function.secrets,
                limits: function.limits.map { FunctionResources(memory: $0.memory, cpu: $0.cpu) },
                requests: function.requests.map { FunctionResources(memory: $0.memory, cpu: $0.cpu) },
                readOnlyRootFilesystem: function.readOnlyRootFilesystem, constraints: function.constraints))
    }

    static let buildOptions: [Arguments.Option] = [
        .value("--base", name: "IMAGE", help: "replace the template's base image (a reference or oci-archive:PATH)"),
        .value("--output", "-o", name: "FILE", help: "also write the image as an OCI archive"),
        .flag("--no-import", help: "do not import the image into containerd (with --output)"),
        .value("--containerd", name: "SOCKET", help: "containerd's socket (/run/containerd/containerd.sock)"),
    ]

    /// Builds one stack function's image from its template; prints each step.
    static func build(
        _ function: StackFile.Function, directory: String, arguments: Arguments, context: ClientContext
    ) async throws -> ImageBuilder.Result {
        guard let lang = function.lang else {
            throw Arguments.UsageError(
                description: "functions.\(function.name) has no lang; it names the template to build with")
        }
        guard let image = function.image else {
            throw Arguments.UsageError(description: "functions.\(function.name).image is missing in the stack file")
        }
        let handler = function.handler ?? "./\(function.name)"
        let locator = TemplateLocator(environment: context.environment, executable: ThisBinary.path)
        let template = try locator.template(lang)
        var request = ImageBuilder.Request(
            functionName: function.name,
            handlerDirectory: URL(fileURLWithPath: handler, relativeTo: URL(fileURLWithPath: directory + "/"))
                .standardized.path,
            template: template, image: image, watchdogBinary: watchdogPath(context.environment))
        request.base = arguments.value("--base")
        request.namespace = arguments.value("--namespace") ?? function.namespace ?? "openfaas-fn"
        request.outputArchive = arguments.value("--output")
        request.importIntoContainerd = !arguments.isSet("--no-import")
        request.buildArgs = function.buildArgs
        if !request.importIntoContainerd && request.outputArchive == nil {
            throw Arguments.UsageError(description: "--no-import needs --output FILE, or the image goes nowhere")
        }
        let containerd = ContainerdImages(
            address: arguments.value("--containerd") ?? context.environment["SKIFF_CONTAINERD"]
                ?? "/run/containerd/containerd.sock")
        let builder = ImageBuilder(containerd: containerd)
        let display = ProgressDisplay(prefix: "[\(function.name)] ")
        display.step("building with template \(template.name) from \(template.directory)")
        let result = try await builder.build(request) { event in
            switch event {
            case .step(let text): display.step(text)
            case .transfer(let progress): display.transfer(progress)
            }
        }
        display.step("built \(result.reference) \(result.digest)")
        return result
    }

    /// `SKIFF_WATCHDOG`, else `skiff-watchdog` beside this binary (as the release and `swift build` place it).
    static func watchdogPath(_ environment: [String: String]) -> String {
        if let explicit = environment["SKIFF_WATCHDOG"], !explicit.isEmpty { return explicit }
        return ThisBinary.directory + "/skiff-watchdog"
    }
}
