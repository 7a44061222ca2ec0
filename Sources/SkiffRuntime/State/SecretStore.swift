import Foundation
import SkiffAPI
import SkiffPOSIX

/// Secrets as files: `secrets/NAMESPACE/NAME`, mode 0600 in 0700 directories, never world-readable, each written
/// whole (a temporary file renamed over the old one), so a crash or a full disk leaves the old value. Each replica
/// gets its own projection of the secrets it uses (see ``project(namespace:names:into:uid:gid:)``), owned by the
/// user its process runs as and mounted read-only at /var/openfaas/secrets.
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
            try? FileSystem.setMode(path, 0o700)
        }
        try StateFile.write(value, to: "\(directory)/\(namespace)/\(name)", mode: 0o600)
    }

    public func delete(namespace: String, name: String) throws {
        try ResourceName.validate(namespace, what: "namespace")
        try ResourceName.validate(name, what: "secret name")
        let path = "\(directory)/\(namespace)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FunctionRuntimeError.notFound("secret \(name) not found in namespace \(namespace)")
        }
        do {
            try DurableFile.remove(path)
        } catch {
            throw FunctionRuntimeError.system("cannot remove \(path): \(error)")
        }
    }

    // MARK: Projection into replicas

    /// Writes the current values of `names` into a replica's secrets directory the way Kubernetes projects a
    /// volume: the values go into a new folder `..vN`, the link `..data` is switched to it with one rename, and
    /// each `NAME` links to `..data/NAME`. A function reading a secret while it changes sees the old value or the
    /// new one, never a mix, and never an empty file. Owned by the replica's user (files 0400), since inside the
    /// container only the mount is visible, not the 0700 folders above it on the host.
    func project(namespace: String, names: [String], into folder: String, uid: UInt32, gid: UInt32) throws {
        let values = try names.map { ($0, try value(namespace: namespace, name: $0)) }
        func fail(_ error: SystemError) -> FunctionRuntimeError {
            .system("cannot project secrets into \(folder): \(error)")
        }
        let version = "..v\(monotonicNanoseconds())"
        let versionPath = "\(folder)/\(version)"
        do {
            try FileSystem.makeDirectory(folder, mode: 0o500, existingIsFine: true)
            try FileSystem.setOwner(folder, uid: uid, gid: gid)
            try FileSystem.setMode(folder, 0o500)
            try FileSystem.makeDirectory(versionPath, mode: 0o500)
            try FileSystem.setOwner(versionPath, uid: uid, gid: gid)
            for (name, bytes) in values {
                let path = "\(versionPath)/\(name)"
                try StateFile.write(bytes, to: path, mode: 0o400)
                try FileSystem.setOwner(path, uid: uid, gid: gid)
            }
            let staging = "\(folder)/..data_tmp"
            FileSystem.removeIfPresent(staging)
            try FileSystem.makeSymbolicLink(at: staging, to: version)
            try FileSystem.rename(staging, to: "\(folder)/..data")
            for (name, _) in values where FileSystem.linkStatus("\(folder)/\(name)") == nil {
                try FileSystem.makeSymbolicLink(at: "\(folder)/\(name)", to: "..data/\(name)")
            }
        } catch let error as SystemError {
            throw fail(error)
        }
        // Versions no reader can reach any more; one that has a file open keeps its inode until it closes.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where entry.hasPrefix("..v") && entry != version {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(entry)")
        }
    }

    /// Projects the current values again into a replica's secrets directory that holds `name` (a no-op for one
    /// that does not use it), keeping its owner.
    func reproject(namespace: String, name: String, in folder: String) throws {
        guard FileSystem.linkStatus("\(folder)/\(name)") != nil, let owner = FileSystem.status(folder) else { return }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/..data")) ?? []).sorted()
        try project(namespace: namespace, names: names, into: folder, uid: owner.uid, gid: owner.gid)
    }
}
