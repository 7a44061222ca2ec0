import Foundation
import SkiffAPI

/// `skiff list`: the functions, as a table or (`--json`) the gateway's JSON array unchanged.
enum ListCommand: ClientCommand {
    static let usage = "skiff list [-n NS] [--json] [--verbose]"
    static let summary = "Lists the deployed functions with their invocation count and replicas."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json,
        .flag("--verbose", "-v", help: "also show the image and the ready replicas"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let client = try context.gateway()
        let namespace = arguments.value("--namespace")
        if arguments.isSet("--json") {
            writeStandardOutput(try await client.functionsBody(namespace: namespace) + [0x0A])
            return 0
        }
        let functions = try await client.functions(namespace: namespace)
        let verbose = arguments.isSet("--verbose")
        let rows = functions.sorted { $0.definition.name < $1.definition.name }.map { function in
            var row = [function.definition.name, String(Int(function.invocationCount)), String(function.replicas)]
            if verbose { row += [String(function.availableReplicas), function.definition.image] }
            return row
        }
        var header = ["Function", "Invocations", "Replicas"]
        if verbose { header += ["Ready", "Image"] }
        print(table(header, rows))
        return 0
    }
}
