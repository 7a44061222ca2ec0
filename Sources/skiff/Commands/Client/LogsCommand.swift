import Foundation
import SkiffPOSIX

/// `skiff logs NAME`: the function's log lines, optionally followed.
enum LogsCommand: ClientCommand {
    static let usage = "skiff logs NAME [-n NS] [--follow] [--tail N] [--since 5m|RFC3339] [--json]"
    static let summary = "Prints a function's logs (stdout and stderr of its replicas), oldest first."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json,
        .flag("--follow", help: "keep printing new lines until interrupted"),
        .value("--tail", name: "N", help: "only the last N lines"),
        .value("--since", name: "WHEN", help: "only lines since a duration ago (5m) or an RFC 3339 time"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let name = arguments.positionals.first, arguments.positionals.count == 1 else {
            throw Arguments.UsageError(description: "name one function")
        }
        var since = arguments.value("--since")
        if let text = since, let ago = Duration(goSyntax: text) {
            // faas-cli converts a duration on the client; the gateway takes RFC 3339 only.
            let formatter = ISO8601DateFormatter()
            since = formatter.string(from: Date().addingTimeInterval(-ago.seconds))
        }
        let stream = try await context.gateway().logs(
            name, namespace: arguments.value("--namespace"), follow: arguments.isSet("--follow"),
            tail: try arguments.integer("--tail"), since: since)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A function writes what it likes to its log; on a terminal its escape sequences are shown, not obeyed.
        let onTerminal = TerminalText.standardOutputIsTerminal
        for try await message in stream {
            if arguments.isSet("--json") {
                writeStandardOutput(Array(try encoder.encode(message)) + [0x0A])
            } else {
                let line = "\(message.timestamp) \(message.name) (\(message.instance)) \(message.text)"
                writeStandardOutput(Array(((onTerminal ? TerminalText.escapingControls(line) : line) + "\n").utf8))
            }
        }
        return 0
    }
}
