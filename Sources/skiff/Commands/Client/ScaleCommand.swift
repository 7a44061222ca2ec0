/// `skiff scale NAME --replicas N`.
enum ScaleCommand: ClientCommand {
    static let usage = "skiff scale NAME --replicas N [-n NS]"
    static let summary = "Sets a function's replica count (0 scales it to zero; the next call wakes it)."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace,
        .value("--replicas", "-r", name: "N", help: "the replica count"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let name = arguments.positionals.first, arguments.positionals.count == 1 else {
            throw Arguments.UsageError(description: "name one function")
        }
        guard let replicas = try arguments.integer("--replicas"), replicas >= 0 else {
            throw Arguments.UsageError(description: "--replicas N is required (0 or more)")
        }
        try await context.gateway().scale(name, replicas: replicas, namespace: arguments.value("--namespace"))
        print("scaled: \(name) to \(replicas) replicas")
        return 0
    }
}
