import SkiffClient

/// Skiff's version: raised here for a release; scripts/release names the tarball after it.
enum SkiffVersion {
    static let release = "0.1.0-dev"
}

/// `skiff version`: the client's version, and the gateway's when one answers. Exits 0 offline.
enum VersionCommand: ClientCommand {
    static let usage = "skiff version [--gateway URL]"
    static let summary = "Prints the client's version and, when a gateway answers, the gateway's."
    static let options: [Arguments.Option] = [CommonOptions.gateway]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        print("skiff version: \(SkiffVersion.release)")
        let url = context.gatewayURL()
        do {
            if let info = try await context.gateway().info() {
                print("gateway: \(url)")
                print("  provider: \(info.provider.provider) \(info.provider.version.release) (\(info.arch))")
                print("  orchestration: \(info.provider.orchestration)")
                if let nats = info.nats { print("  nats: \(nats.url) (auth: \(nats.auth))") }
            }
        } catch {
            print("gateway: \(url) does not answer")
        }
        return 0
    }
}
