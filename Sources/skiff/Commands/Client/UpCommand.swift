/// `skiff up -f stack.yml`: build, then deploy — one command from a handler folder to a running function.
enum UpCommand: ClientCommand {
    static let usage = "skiff up [-f stack.yml] [--filter NAME] [--base IMAGE]"
    static let summary = "Builds every function of the stack file that has a lang, then deploys them all."
    static let options: [Arguments.Option] =
        DeployCommand.deployOptions.filter {
            ["--gateway", "--namespace", "--yaml", "--filter"].contains($0.canonical)
        }
        + StackFunctions.buildOptions

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let stack = try context.requiredStack()
        for function in try context.selectedFunctions(stack.file) where function.lang != nil {
            _ = try await StackFunctions.build(
                function, directory: stack.directory, arguments: arguments, context: context)
        }
        return try await DeployCommand.deploy(arguments, context)
    }
}
