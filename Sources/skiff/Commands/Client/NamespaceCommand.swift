import Foundation

/// `skiff namespace list`.
enum NamespaceCommand: ClientCommand {
    static let usage = "skiff namespace list [--json]"
    static let summary = "Lists the namespaces functions can be deployed to."
    static let options: [Arguments.Option] = [CommonOptions.gateway, CommonOptions.json]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard ["list", "ls"].contains(arguments.positionals.first ?? "list") else {
            throw Arguments.UsageError(description: "namespace supports list")
        }
        let namespaces = try await context.gateway().namespaces()
        if arguments.isSet("--json") {
            writeStandardOutput(Array(try JSONEncoder().encode(namespaces)) + [0x0A])
        } else {
            print(table(["Namespace"], namespaces.sorted().map { [$0] }))
        }
        return 0
    }
}
