// The skiff executable: `skiff serve` is the daemon; client verbs live beside it.
// This file only dispatches to Commands/ (the daemon's) and Commands/Client/ (one file per verb).
import Glibc
import SkiffPOSIX

// Run under the name nats-server (a link), the binary is the broker alone, for harnesses that start "nats-server".
let invokedAs = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? ""
let arguments =
    invokedAs == "nats-server"
    ? ["nats-server"] + CommandLine.arguments.dropFirst() : Array(CommandLine.arguments.dropFirst())
let verb = arguments.first ?? "help"
let rest = Array(arguments.dropFirst())

let clientVerbs: [String: any ClientCommand.Type] = [
    "login": LoginCommand.self, "logout": LogoutCommand.self, "new": NewCommand.self, "build": BuildCommand.self,
    "deploy": DeployCommand.self, "up": UpCommand.self, "list": ListCommand.self, "ls": ListCommand.self,
    "describe": DescribeCommand.self, "invoke": InvokeCommand.self, "remove": RemoveCommand.self,
    "rm": RemoveCommand.self, "logs": LogsCommand.self, "scale": ScaleCommand.self, "secret": SecretCommand.self,
    "namespace": NamespaceCommand.self, "images": ImagesCommand.self, "queue": QueueCommand.self,
    "version": VersionCommand.self,
    "install": InstallCommand.self,
    "uninstall": UninstallCommand.self,
]

switch verb {
case "serve":
    // The daemons handle EPIPE; the client verbs keep the default, so `skiff logs --follow | head` ends.
    BrokenPipes.ignore()
    exit(await ServeCommand.run(rest))
case "nats-server":
    BrokenPipes.ignore()
    exit(await NATSServerCommand.run(rest))
case "collect-logs":
    BrokenPipes.ignore()
    exit(CollectLogsCommand.run(rest))
case "--version":
    exit(await VersionCommand.main([]))
case "help", "--help", "-h":
    print(Usage.text)
    exit(0)
default:
    guard let command = clientVerbs[verb] else {
        Console.error("skiff: unknown command '\(verb)'\n\n\(Usage.text)")
        exit(2)
    }
    exit(await command.main(rest))
}
