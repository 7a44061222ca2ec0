import Foundation
import SkiffPOSIX
import SkiffStack

/// Basic credentials for one gateway.
public struct BasicCredentials: Sendable, Equatable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var header: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
    var token: String { Data("\(user):\(password)".utf8).base64EncodedString() }

    init?(token: String) {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        user = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
    }
}

/// Logins are kept where faas-cli keeps them, `~/.openfaas/config.yml` (or `$OPENFAAS_CONFIG/config.yml`), in its
/// format, so a `skiff login` serves faas-cli and a `faas-cli login` serves skiff. The file is written 0600.
public struct CredentialStore: Sendable {
    public let path: String

    public init(environment: [String: String]) {
        let directory =
            environment["OPENFAAS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.openfaas"
        path = directory + "/config.yml"
    }

    private struct Entry {
        var gateway: String
        var auth: String
        var token: String
    }

    private func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path),
            let root = try? YAMLParser.parse(String(decoding: data, as: UTF8.self)),
            case .sequence(let items)? = root["auths"]
        else { return [] }
        return items.compactMap { item in
            guard case .scalar(let gateway)? = item["gateway"], case .scalar(let token)? = item["token"] else {
                return nil
            }
            var auth = "basic"
            if case .scalar(let kind)? = item["auth"] { auth = kind }
            return Entry(gateway: gateway, auth: auth, token: token)
        }
    }

    public func credentials(for gateway: String) -> BasicCredentials? {
        let wanted = Self.normalise(gateway)
        guard let entry = entries().first(where: { Self.normalise($0.gateway) == wanted && $0.auth == "basic" })
        else { return nil }
        return BasicCredentials(token: entry.token)
    }

    public func save(_ credentials: BasicCredentials, for gateway: String) throws {
        let wanted = Self.normalise(gateway)
        var all = entries().filter { Self.normalise($0.gateway) != wanted }
        all.append(Entry(gateway: wanted, auth: "basic", token: credentials.token))
        try write(all)
    }

    /// Returns whether there was a login to forget.
    public func remove(for gateway: String) throws -> Bool {
        let wanted = Self.normalise(gateway)
        let all = entries()
        let kept = all.filter { Self.normalise($0.gateway) != wanted }
        guard kept.count != all.count else { return false }
        try write(kept)
        return true
    }

    private func write(_ entries: [Entry]) throws {
        // With no login left, faas-cli writes an empty list, not an empty key (which YAML reads as null).
        var text = entries.isEmpty ? "auths: []\n" : "auths:\n"
        for entry in entries {
            text += "- gateway: \"\(entry.gateway)\"\n  auth: \(entry.auth)\n  token: \(entry.token)\n"
        }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            try DurableFile.write(Array(text.utf8), to: path, mode: 0o600)
        } catch {
            throw GatewayError(status: nil, message: "cannot write \(path): \(error); check the folder's permissions")
        }
    }

    static func normalise(_ gateway: String) -> String {
        var url = gateway
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
