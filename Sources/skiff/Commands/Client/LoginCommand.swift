import SkiffClient

/// `skiff login`: checks the credentials against the gateway (as faas-cli does, with GET /system/functions)
/// and saves them in faas-cli's config file.
enum LoginCommand: ClientCommand {
    static let usage = "skiff login [--username admin] --password-stdin [--gateway URL]"
    static let summary = "Saves the gateway's admin credentials for the other verbs (and for faas-cli)."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway,
        .value("--username", "-u", name: "USER", help: "user name (admin)"),
        .flag("--password-stdin", "-s", help: "read the password from standard input"),
        .value("--password", "-p", name: "PASSWORD", help: "the password (visible to other users; prefer stdin)"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        var password = arguments.value("--password") ?? ""
        if arguments.isSet("--password-stdin") {
            password = String(decoding: readStandardInput(), as: UTF8.self)
        }
        password = password.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !password.isEmpty else {
            throw Arguments.UsageError(description: "give the password with --password-stdin (or --password)")
        }
        let url = context.gatewayURL()
        let credentials = BasicCredentials(user: arguments.value("--username") ?? "admin", password: password)
        let client = try GatewayClient(gateway: url, credentials: credentials, http: try context.httpClient())
        let answer = try await client.send(.get, "/system/functions")
        switch answer.status {
        case 200:
            try context.credentialStore.save(credentials, for: url)
            print("credentials saved for \(credentials.user) \(url)")
            return 0
        case 401:
            Console.error("skiff: the gateway at \(url) refused these credentials (401); check the password")
            return 1
        default:
            Console.error("skiff: the gateway at \(url) answered \(answer.status) to the login check")
            return 1
        }
    }
}

/// `skiff logout`: forgets the saved credentials for a gateway.
enum LogoutCommand: ClientCommand {
    static let usage = "skiff logout [--gateway URL]"
    static let summary = "Forgets the saved credentials for the gateway."
    static let options: [Arguments.Option] = [CommonOptions.gateway]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let url = context.gatewayURL()
        print(try context.credentialStore.remove(for: url) ? "credentials removed for \(url)" : "no login for \(url)")
        return 0
    }
}
