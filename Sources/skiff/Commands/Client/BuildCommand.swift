/// `skiff build -f stack.yml`: the functions' images, made here without Docker.
enum BuildCommand: ClientCommand {
    static let usage = "skiff build [-f stack.yml] [--filter NAME] [--base IMAGE] [--output FILE [--no-import]]"
    static let summary = """
        Builds each function's image from its template (lang) and handler folder, with no Docker: base layers, \
        the watchdog, the template, the handler's dependencies and the handler. The image is imported into \
        containerd (namespace openfaas-fn unless -n) and/or written as an OCI archive. Same inputs, same digest.
        """
    static let options: [Arguments.Option] =
        [CommonOptions.stack, CommonOptions.filter, CommonOptions.namespace] + StackFunctions.buildOptions

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let stack = try context.requiredStack()
        let functions = try context.selectedFunctions(stack.file)
        if arguments.value("--output") != nil && functions.count > 1 {
            throw Arguments.UsageError(description: "--output writes one image; choose a function with --filter")
        }
        for function in functions {
            _ = try await StackFunctions.build(
                function, directory: stack.directory, arguments: arguments, context: context)
        }
        return 0
    }
}
