import Foundation
import SkiffAPI

/// `skiff describe NAME`: one function's settings and state.
enum DescribeCommand: ClientCommand {
    static let usage = "skiff describe NAME [-n NS] [--json]"
    static let summary = "Shows a function's image, replicas, readiness, settings and invocation count."
    static let options: [Arguments.Option] = [CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let name = arguments.positionals.first, arguments.positionals.count == 1 else {
            throw Arguments.UsageError(description: "name one function")
        }
        let client = try context.gateway()
        let namespace = arguments.value("--namespace")
        if arguments.isSet("--json") {
            writeStandardOutput(try await client.functionBody(name, namespace: namespace) + [0x0A])
            return 0
        }
        let summary = try await client.function(name, namespace: namespace)
        let function = summary.definition
        // The describe answer has no invocation count in OpenFaaS; the list has it.
        let listed = try await client.functions(namespace: namespace).first { $0.definition.name == name }
        func map(_ values: [String: String]) -> String {
            values.sorted { $0.key < $1.key }.map { "\n  \($0.key): \($0.value)" }.joined()
        }
        var lines = [
            ("Name", function.name),
            ("Status", summary.availableReplicas > 0 ? "Ready" : "Not Ready"),
            ("Replicas", String(summary.replicas)),
            ("Available Replicas", String(summary.availableReplicas)),
            ("Invocations", String(Int(listed?.invocationCount ?? 0))),
            ("Image", function.image),
            ("Namespace", function.namespace),
            ("Function Process", function.envProcess ?? ""),
            ("Created", summary.createdAt),
        ]
        if !function.secrets.isEmpty {
            lines.append(("Secrets", function.secrets.joined(separator: ", ")))
        }
        if let limits = function.limits {
            lines.append(("Limits", "memory \(limits.memory ?? "-"), cpu \(limits.cpu ?? "-")"))
        }
        for (title, text) in lines where !text.isEmpty { print("\(title): \(text)") }
        for (title, values) in [
            ("Environment", function.envVars), ("Labels", function.labels), ("Annotations", function.annotations),
        ] where !values.isEmpty {
            print("\(title):\(map(values))")
        }
        return 0
    }
}
