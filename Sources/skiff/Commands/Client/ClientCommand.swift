import Foundation
import SkiffClient
import SkiffHTTP
import SkiffPOSIX
import SkiffStack

/// A client verb: its options, its help, and what it does with a ``ClientContext``. Exit codes: 0 success,
/// 1 the operation failed (the message says why), 2 the command line was wrong.
protocol ClientCommand {
    static var usage: String { get }
    static var summary: String { get }
    static var options: [Arguments.Option] { get }
    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32
}

extension ClientCommand {
    static func main(_ raw: [String]) async -> Int32 {
        let all = options + [.flag("--help", "-h", help: "show this help")]
        if raw.contains("--help") || raw.contains("-h") {
            print(Arguments.help(usage: usage, summary: summary, options: all))
            return 0
        }
        let arguments: Arguments
        do {
            arguments = try Arguments(raw, options: all)
        } catch {
            Console.error(
                "skiff: \(error.description)\n\n" + Arguments.help(usage: usage, summary: summary, options: all))
            return 2
        }
        let context = ClientContext(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        do {
            return try await run(arguments, context)
        } catch let error as Arguments.UsageError {
            Console.error("skiff: \(error.description)\n\nusage: \(usage)")
            return 2
        } catch {
            Console.error("skiff: \(error)")
            return 1
        }
    }
}

/// Options most verbs share.
enum CommonOptions {
    static let gateway = Arguments.Option.value(
        "--gateway", "-g", name: "URL", help: "gateway URL (else $OPENFAAS_URL, the stack file, http://127.0.0.1:8080)")
    static let namespace = Arguments.Option.value("--namespace", "-n", name: "NS", help: "function namespace")
    static let json = Arguments.Option.flag("--json", help: "print JSON for scripts instead of a table")
    static let stack = Arguments.Option.value("--yaml", "-f", name: "FILE", help: "stack file (stack.yml)")
    static let filter = Arguments.Option.value("--filter", name: "NAME", help: "only this function of the stack file")
}

/// What a verb needs from the outside: the environment, the stack file, the gateway client.
final class ClientContext {
    let arguments: Arguments
    let environment: [String: String]
    private var group: EventLoopGroup?

    init(arguments: Arguments, environment: [String: String]) {
        self.arguments = arguments
        self.environment = environment
    }

    deinit { group?.shutdown() }

    /// What faas-cli reads when no -f is given.
    static let defaultStackFiles = ["stack.yml", "stack.yaml"]

    /// The stack file named by -f; without -f, as faas-cli does, `stack.yml` (then `stack.yaml`) in the current
    /// folder when `orDefault` (verbs whose flag form was not used); else nil.
    func stack(orDefault: Bool = true) throws -> (file: StackFile, directory: String)? {
        var path = arguments.value("--yaml")
        if path == nil && orDefault {
            path = Self.defaultStackFiles.first { FileManager.default.fileExists(atPath: $0) }
        }
        guard let path else { return nil }
        let file = try StackFile(contentsOf: path, environment: environment)
        return (file, URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// ``stack(orDefault:)`` for the verbs that cannot work without one (build, up).
    func requiredStack() throws -> (file: StackFile, directory: String) {
        guard let found = try stack() else {
            throw Arguments.UsageError(
                description: "no stack file: pass one with -f, or run where stack.yml (or stack.yaml) is")
        }
        return found
    }

    /// --gateway, else OPENFAAS_URL, else the stack file's provider.gateway, else the local default.
    func gatewayURL(stack: StackFile? = nil) -> String {
        if let flag = arguments.value("--gateway") { return flag }
        if let variable = environment["OPENFAAS_URL"], !variable.isEmpty { return variable }
        if let fromStack = stack?.provider.gateway, !fromStack.isEmpty { return fromStack }
        return "http://127.0.0.1:8080"
    }

    func gateway(stack: StackFile? = nil) throws -> GatewayClient {
        let url = gatewayURL(stack: stack)
        return try GatewayClient(gateway: url, credentials: credentials(for: url), http: try httpClient())
    }

    func httpClient() throws -> HTTPClient {
        let group = try self.group ?? EventLoopGroup(loopCount: 1)
        self.group = group
        var configuration = HTTPClient.Configuration()
        configuration.requestTimeout = nil
        return HTTPClient(group: group, configuration: configuration)
    }

    var credentialStore: CredentialStore { CredentialStore(environment: environment) }

    /// A saved login for the gateway; failing that, on the gateway's own machine, the admin password file when
    /// this user can read it (root), so `sudo skiff list` works without a login.
    func credentials(for gateway: String) -> BasicCredentials? {
        if let saved = credentialStore.credentials(for: gateway) { return saved }
        guard let request = try? HTTPClientRequest(url: gateway),
            ["127.0.0.1", "localhost", "::1"].contains(request.host)
        else { return nil }
        let state = environment["SKIFF_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/skiff"
        guard let data = FileManager.default.contents(atPath: state + "/secrets/basic-auth-password") else {
            return nil
        }
        let password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return password.isEmpty ? nil : BasicCredentials(user: "admin", password: password)
    }

    /// The functions of the stack file that --filter selects (all when it is not given).
    func selectedFunctions(_ stack: StackFile) throws -> [StackFile.Function] {
        guard let filter = arguments.value("--filter") else { return stack.functions }
        let chosen = stack.functions.filter { $0.name == filter }
        guard !chosen.isEmpty else {
            throw Arguments.UsageError(
                description: "the stack file has no function \(filter); it has "
                    + stack.functions.map(\.name).joined(separator: ", "))
        }
        return chosen
    }
}

/// Reads standard input to its end.
func readStandardInput() -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

/// Writes bytes to standard output unbuffered (a streamed answer shows as it arrives).
func writeStandardOutput(_ bytes: [UInt8]) { _ = writeAll(1, bytes) }

/// A plain table: columns padded to their widest cell.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
        }.joined()
    }.joined(separator: "\n")
}
