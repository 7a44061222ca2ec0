// The skiff executable: `skiff serve` is the daemon; client verbs live beside it.
// This file only dispatches to Commands/; each command is one file there.
import Glibc

let arguments = Array(CommandLine.arguments.dropFirst())
let verb = arguments.first ?? "help"
let rest = Array(arguments.dropFirst())

switch verb {
case "serve":
    exit(await ServeCommand.run(rest))
case "collect-logs":
    exit(CollectLogsCommand.run(rest))
case "version", "--version":
    exit(VersionCommand.run(rest))
case "help", "--help", "-h":
    print(Usage.text)
    exit(0)
default:
    Console.error("skiff: unknown command '\(verb)'\n\n\(Usage.text)")
    exit(2)
}
