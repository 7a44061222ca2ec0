import Foundation
import Glibc

/// Secrets as files: `secrets/NAMESPACE/NAME`, mode 0600 in 0700 directories, never world-readable. Each
/// replica gets its own copies owned by the user its process runs as (images often run as non-root), bind-
/// mounted read-only at /var/openfaas/secrets/NAME. Updates rewrite files in place, so running replicas see
/// new values at once.
public struct SecretStore: Sendable {
    public let directory: String

    public init(stateDirectory: String) { directory = "\(stateDirectory)/secrets" }

    public func names(namespace: String) throws -> [String] {
        try ResourceName.validate(namespace, what: "namespace")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(namespace)")) ?? []
        return names.filter(ResourceName.isValid).sorted()
    }

    public func exists(namespace: String, name: String) -> Bool {
        ResourceName.isValid(namespace) && ResourceName.isValid(name)
            && FileManager.default.fileExists(atPath: "\(directory)/\(namespace)/\(name)")
    }

    public func value(namespace: String, name: String) throws -> [UInt8] {
        try ResourceName.validate(namespace, what: "namespace")
        try ResourceName.validate(name, what: "secret name")
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(namespace)/\(name)") else {
            throw FunctionRuntimeError.notFound("secret \(name) not found in namespace \(namespace)")
        }
        return Array(data)
    }

    public func write(namespace: String, name: String, value: [UInt8]) throws {
        try ResourceName.validate(namespace, what: "namespace")
        try ResourceName.validate(name, what: "secret name")
        for path in [directory, "\(directory)/\(namespace)"] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, 0o700)
        }
        try StateFile.rewriteInPlace(value, at: "\(directory)/\(namespace)/\(name)", mode: 0o600)
    }

    public func delete(namespace: String, name: String) throws {
        try ResourceName.validate(namespace, what: "namespace")
        try ResourceName.validate(name, what: "secret name")
        let path = "\(directory)/\(namespace)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FunctionRuntimeError.notFound("secret \(name) not found in namespace \(namespace)")
        }
        try FileManager.default.removeItem(atPath: path)
    }

    /// Writes a replica's copy of a secret, owned by the replica's user, mode 0400, in place.
    func copy(namespace: String, name: String, to path: String, uid: UInt32, gid: UInt32) throws {
        let bytes = try value(namespace: namespace, name: name)
        try StateFile.rewriteInPlace(bytes, at: path, mode: 0o400)
        guard chown(path, uid, gid) == 0, chmod(path, 0o400) == 0 else {
            throw FunctionRuntimeError.system("cannot hand the secret copy \(path) to uid \(uid)")
        }
    }
}
