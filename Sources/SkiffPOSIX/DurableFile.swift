import Glibc

/// Writes that survive a crash or power loss at any moment: a temporary file, fsync, rename over the target,
/// fsync of the directory. A reader sees the old content or the new, never a torn one. The mode is set exactly
/// (not filtered by the umask) and missing parent folders are created (0755). Used for the daemon's state,
/// installed files and saved logins.
public enum DurableFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(SystemError) {
        let temporary = try writeTemporary(bytes, beside: path, mode: mode)
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw SystemError(call: "rename(\(temporary), \(path))", errno: failure)
        }
        syncDirectory(parent(of: path))
    }

    /// Like ``write(_:to:mode:)`` for a file that must not exist yet: of two processes creating it at once,
    /// one wins and the other gets EEXIST, and nobody ever reads it half-written (a generated password, say).
    public static func create(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws(SystemError) {
        let temporary = try writeTemporary(bytes, beside: path, mode: mode)
        let linked = link(temporary, path) == 0
        let failure = errno
        unlink(temporary)
        guard linked else { throw SystemError(call: "link(\(temporary), \(path))", errno: failure) }
        syncDirectory(parent(of: path))
    }

    /// The bytes in a synced temporary file beside `path` (its folders made), with exactly `mode`.
    private static func writeTemporary(_ bytes: [UInt8], beside path: String, mode: mode_t) throws(SystemError)
        -> String
    {
        try makeDirectories(parent(of: path))
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(call: "open(\(temporary))", errno: errno) }
        let ok = writeAll(fd, bytes) && fchmod(fd, mode) == 0 && fsync(fd) == 0
        let failure = errno
        close(fd)
        guard ok else {
            unlink(temporary)
            throw SystemError(call: "write(\(temporary))", errno: failure)
        }
        return temporary
    }

    /// Rewrites a file's content in place (same inode). Needed for files bind-mounted into containers: a
    /// rename would leave running containers looking at the old inode.
    public static func rewriteInPlace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        defer { close(fd) }
        guard writeAll(fd, bytes), fsync(fd) == 0 else { throw SystemError(call: "write(\(path))", errno: errno) }
    }

    /// Removes a file and makes the removal durable (the directory synced), so a record deleted before a crash
    /// stays deleted after it.
    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw SystemError(call: "unlink(\(path))", errno: errno) }
        syncDirectory(parent(of: path))
    }

    public static func syncDirectory(_ directory: String) {
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SystemError(call: "mkdir(\(prefix))", errno: errno)
            }
        }
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
