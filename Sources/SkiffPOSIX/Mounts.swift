import Glibc

/// Mounting and unmounting, with containerd's mount options (`ro`, `rw`, `bind`, `rbind`; the rest is data for
/// the file system, e.g. overlay's `lowerdir=…`).
public enum Mounts {
    public static func mount(source: String, at target: String, type: String, options: [String]) throws(SystemError) {
        var flags: UInt = 0
        var data: [String] = []
        for option in options {
            switch option {
            case "ro": flags |= UInt(MS_RDONLY)
            case "rw": break
            case "bind": flags |= UInt(MS_BIND)
            case "rbind": flags |= UInt(MS_BIND | MS_REC)
            default: data.append(option)
            }
        }
        _ = try systemCall("mount(\(target))") { Glibc.mount(source, target, type, flags, data.joined(separator: ",")) }
    }

    /// Detaches everything stacked at `target` (lazy unmount: whatever still uses it keeps it until it lets go).
    public static func unmountAll(at target: String) {
        while FileSystem.isMountPoint(target) {
            guard umount2(target, Int32(MNT_DETACH)) == 0 else { return }
        }
    }
}
