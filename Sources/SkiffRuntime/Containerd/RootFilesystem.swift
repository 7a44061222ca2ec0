import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffPOSIX

/// A replica's root filesystem: a writable containerd snapshot on top of the image, mounted by Skiff at a path
/// of its own (containers created from a full spec get no mount from containerd). It stays mounted while the
/// function sits at zero, so a cold start is a task start only.
enum RootFilesystem {
    /// Mounts the snapshot's mounts at `target` (usually one overlay; a bind for a single-layer snapshot
    /// without parent).
    static func mount(_ mounts: [Ctr.Mount], at target: String) throws {
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        if FileSystem.isMountPoint(target) { return }
        for entry in mounts {
            do {
                try Mounts.mount(source: entry.source, at: target, type: entry.type, options: entry.options)
            } catch {
                throw FunctionRuntimeError.system(
                    "cannot mount the replica's root filesystem at \(target): \(String(cString: strerror(error.errno)))"
                )
            }
        }
    }

    static func unmount(_ target: String) { Mounts.unmountAll(at: target) }

    /// Resolves the image's `User` (`name`, `uid`, `name:group`, `uid:gid`) against the root filesystem's
    /// /etc/passwd and /etc/group, as containerd does when it builds a spec from an image.
    static func user(_ spec: String?, rootfs: String) throws(FunctionRuntimeError) -> RuntimeSpec.User {
        let text = (spec ?? "").trimmingSpaces()
        if text.isEmpty { return RuntimeSpec.User(uid: 0, gid: 0, additionalGids: nil) }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let passwd = entries("\(rootfs)/etc/passwd")
        let groups = entries("\(rootfs)/etc/group")
        var uid: UInt32
        var gid: UInt32
        var name: String?
        if let number = UInt32(parts[0]) {
            uid = number
            let entry = passwd.first { $0.count > 3 && UInt32($0[2]) == number }
            gid = entry.flatMap { UInt32($0[3]) } ?? 0
            name = entry?[0]
        } else {
            guard let entry = passwd.first(where: { $0.count > 3 && $0[0] == parts[0] }),
                let number = UInt32(entry[2]), let group = UInt32(entry[3])
            else {
                throw .invalid("the image's user '\(parts[0])' is not in its /etc/passwd; use a numeric uid")
            }
            uid = number
            gid = group
            name = parts[0]
        }
        if parts.count > 1 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else {
                guard let entry = groups.first(where: { $0.count > 2 && $0[0] == parts[1] }),
                    let number = UInt32(entry[2])
                else {
                    throw .invalid("the image's group '\(parts[1])' is not in its /etc/group; use a numeric gid")
                }
                gid = number
            }
        }
        var additional: [UInt32] = []
        if let name {
            for entry in groups where entry.count > 3 && entry[3].split(separator: ",").contains(Substring(name)) {
                if let number = UInt32(entry[2]), number != gid { additional.append(number) }
            }
        }
        return RuntimeSpec.User(uid: uid, gid: gid, additionalGids: additional.isEmpty ? nil : additional)
    }

    private static func entries(_ path: String) -> [[String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
