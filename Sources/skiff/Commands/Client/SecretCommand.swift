import Foundation
import SkiffAPI

/// `skiff secret create|update|list|remove`.
enum SecretCommand: ClientCommand {
    static let usage =
        "skiff secret create NAME [--from-literal V | --from-file F | stdin] [--replace] | list | remove NAME"
    static let summary = "Manages secrets; functions that name one see it as /var/openfaas/secrets/NAME."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json,
        .value("--from-literal", name: "VALUE", help: "the secret's value"),
        .value("--from-file", name: "FILE", help: "read the value from a file (bytes kept exactly)"),
        .flag("--replace", help: "create: update the secret when it exists"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let namespace = arguments.value("--namespace")
        let verb = arguments.positionals.first ?? ""
        let names = Array(arguments.positionals.dropFirst())
        switch verb {
        case "list", "ls":
            let secrets = try await context.gateway().secrets(namespace: namespace)
            if arguments.isSet("--json") {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                writeStandardOutput(Array(try encoder.encode(secrets)) + [0x0A])
            } else {
                print(table(["Name"], secrets.map { [$0.name] }.sorted { $0[0] < $1[0] }))
            }
            return 0
        case "create", "update":
            guard let name = names.first, names.count == 1 else {
                throw Arguments.UsageError(description: "name one secret")
            }
            let value: [UInt8]
            if let literal = arguments.value("--from-literal") {
                value = Array(literal.utf8)
            } else if let file = arguments.value("--from-file") {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw Arguments.UsageError(description: "cannot read \(file)")
                }
                value = Array(data)
            } else {
                value = readStandardInput()
            }
            let body = SecretBody(name: name, namespace: namespace, rawValue: Data(value).base64EncodedString())
            let client = try context.gateway()
            if verb == "update" {
                try await client.call(.put, "/system/secrets", json: body, what: "update secret \(name)")
            } else {
                try await client.createSecret(body, replace: arguments.isSet("--replace"))
            }
            print("\(verb)d: secret \(name)")
            return 0
        case "remove", "rm", "delete":
            guard !names.isEmpty else { throw Arguments.UsageError(description: "name the secrets to remove") }
            let client = try context.gateway()
            for name in names {
                try await client.removeSecret(name, namespace: namespace)
                print("removed: secret \(name)")
            }
            return 0
        default:
            throw Arguments.UsageError(description: "secret needs create, update, list or remove")
        }
    }
}
