import Foundation
import SkiffAPI
import SkiffBuild
import SkiffContainerd
import SkiffImage

/// `skiff new --lang TEMPLATE NAME`: a handler folder from the template's starter files and `NAME.yml`.
enum NewCommand: ClientCommand {
    static let usage = "skiff new --lang TEMPLATE NAME [--gateway URL] | skiff new --list"
    static let summary = "Creates NAME/ (the template's starter handler) and NAME.yml (a stack file) here."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway,
        .value("--lang", name: "TEMPLATE", help: "the template: python3-http, python3-lambda, shell, binary, …"),
        .flag("--list", help: "list the templates and where they were found"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let locator = TemplateLocator(environment: context.environment, executable: ThisBinary.path)
        if arguments.isSet("--list") {
            let directory = try locator.directory()
            print("templates in \(directory):")
            for name in try locator.available() {
                let template = try locator.template(name)
                print("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0))\(template.description)")
            }
            return 0
        }
        guard let name = arguments.positionals.first, arguments.positionals.count == 1 else {
            throw Arguments.UsageError(description: "name the new function")
        }
        guard let lang = arguments.value("--lang") else {
            throw Arguments.UsageError(description: "choose a template with --lang (skiff new --list shows them)")
        }
        do {
            try ResourceName.validate(name, what: "function name")
        } catch {
            throw Arguments.UsageError(description: error.description)
        }
        let template = try locator.template(lang)
        let manager = FileManager.default
        let stackFile = "\(name).yml"
        for path in [name, stackFile] where manager.fileExists(atPath: path) {
            Console.error("skiff: \(path) already exists here; choose another name or remove it")
            return 1
        }
        let starter = template.directory + "/function"
        if manager.fileExists(atPath: starter) {
            try manager.copyItem(atPath: starter, toPath: name)
        } else {
            try manager.createDirectory(atPath: name, withIntermediateDirectories: false)
        }
        let stack = """
            version: 1.0
            provider:
              name: openfaas
              gateway: \(context.gatewayURL())
            functions:
              \(name):
                lang: \(lang)
                handler: ./\(name)
                image: \(name):latest

            """
        guard manager.createFile(atPath: stackFile, contents: Data(stack.utf8)) else {
            throw Arguments.UsageError(description: "cannot write \(stackFile) here")
        }
        print("created \(name)/ (handler, from template \(lang)) and \(stackFile)")
        print(await nextStep(stackFile: stackFile, base: template.base))
        return 0
    }

    /// `skiff up`, or, when the template's base image is not in containerd (a lab VM with no registry), the
    /// offline form that builds on a local archive instead: a first `skiff up` that tries to pull and fails is
    /// the worst start.
    static func nextStep(stackFile: String, base: Template.Base) async -> String {
        guard case .image(let reference) = base, !(await isLocal(reference)) else {
            return "next: skiff up -f \(stackFile)"
        }
        let python = reference.contains("python")
        let archive = python ? "$(scripts/python-base)" : "FILE"
        let source = python ? "scripts/python-base makes it offline" : "export it where a registry is reachable"
        return "next: skiff up -f \(stackFile) --base oci-archive:\(archive)\n"
            + "      (the base image \(reference) is not in containerd here; \(source); "
            + "with a registry, plain `skiff up -f \(stackFile)` pulls it)"
    }

    private static func isLocal(_ reference: String) async -> Bool {
        guard let normalised = try? ImageReference(parsing: reference).description else { return false }
        let containerd = ContainerdImages()
        guard let namespaces = try? await containerd.namespaces() else { return false }
        for namespace in namespaces where (try? await containerd.contains(normalised, namespace: namespace)) == true {
            return true
        }
        return false
    }
}
