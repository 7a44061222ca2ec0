/// `skiff remove NAME…` (or every function of a stack file).
enum RemoveCommand: ClientCommand {
    static let usage = "skiff remove NAME… [-n NS] | skiff remove -f stack.yml [--filter NAME]"
    static let summary = "Removes functions: their replicas, images stay in containerd."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.stack, CommonOptions.filter,
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        var targets: [(String, String?)] = arguments.positionals.map { ($0, arguments.value("--namespace")) }
        let stack = try context.stack(orDefault: arguments.positionals.isEmpty)
        if let stack {
            targets += try context.selectedFunctions(stack.file).map {
                ($0.name, arguments.value("--namespace") ?? $0.namespace)
            }
        }
        guard !targets.isEmpty else {
            throw Arguments.UsageError(description: "name a function, pass -f, or run where stack.yml is")
        }
        let client = try context.gateway(stack: stack?.file)
        var failed = false
        for (name, namespace) in targets {
            do {
                try await client.remove(name, namespace: namespace)
                print("removed: \(name)")
            } catch {
                Console.error("skiff: \(error)")
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}
