import Glibc

/// What `stat` tells about a path, in the units callers use.
public struct FileStatus: Sendable, Equatable {
    public var size: Int
    public var inode: UInt64
    public var device: UInt64
    public var uid: UInt32
    public var gid: UInt32

    init(_ info: stat) {
        size = Int(info.st_size)
        inode = UInt64(info.st_ino)
        device = UInt64(info.st_dev)
        uid = info.st_uid
        gid = info.st_gid
    }
}

/// Small named file-system operations over the system calls, each with the errno of a failure in its error.
/// Foundation's FileManager covers the rest; these are what it does not do (ownership, symbolic links made
/// exactly, appends that are one `write`, mount points) or does with more cost than a hot path affords.
public enum FileSystem {
    /// `stat(2)`: nil when the path does not exist or cannot be looked at.
    public static func status(_ path: String) -> FileStatus? {
        var info = stat()
        return stat(path, &info) == 0 ? FileStatus(info) : nil
    }

    /// `lstat(2)`: the link itself, not what it points to.
    public static func linkStatus(_ path: String) -> FileStatus? {
        var info = stat()
        return lstat(path, &info) == 0 ? FileStatus(info) : nil
    }

    public static func setMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        _ = try systemCall("chmod(\(path))") { chmod(path, mode) }
    }

    public static func setOwner(_ path: String, uid: UInt32, gid: UInt32) throws(SystemError) {
        _ = try systemCall("chown(\(path))") { chown(path, uid, gid) }
    }

    /// `mkdir(2)` of one level; an existing directory is fine when `existingIsFine`.
    public static func makeDirectory(_ path: String, mode: mode_t, existingIsFine: Bool = false) throws(SystemError) {
        if mkdir(path, mode) != 0 {
            let code = errno
            if code == EEXIST && existingIsFine { return }
            throw SystemError(call: "mkdir(\(path))", errno: code)
        }
    }

    /// A symbolic link at `path` holding `target` exactly (relative targets stay relative).
    public static func makeSymbolicLink(at path: String, to target: String) throws(SystemError) {
        _ = try systemCall("symlink(\(path))") { symlink(target, path) }
    }

    /// `rename(2)`: atomic within one file system, replacing what is at `destination`.
    public static func rename(_ source: String, to destination: String) throws(SystemError) {
        _ = try systemCall("rename(\(source))") { Glibc.rename(source, destination) }
    }

    /// Removes a file or link; one that is not there is not an error.
    public static func removeIfPresent(_ path: String) {
        _ = unlink(path)
    }

    /// Appends `bytes` to `path` with one `write` on an O_APPEND descriptor (creating the file with `mode`), so
    /// that several processes appending lines never interleave within one. False when the file cannot be opened
    /// or written.
    @discardableResult
    public static func append(_ bytes: [UInt8], to path: String, mode: mode_t = 0o640) -> Bool {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(fd, bytes)
    }

    /// Whether anything exists at `path` (`access(F_OK)`, without following a question of permissions).
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether `path` may be executed by this process (`access(X_OK)`).
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    /// Creates `path` empty (truncating what was there). False when it cannot be created.
    @discardableResult
    public static func createEmpty(_ path: String, mode: mode_t) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// Whether something is mounted exactly at `path` (its device differs from its parent's, or it is `/`).
    public static func isMountPoint(_ path: String) -> Bool {
        guard let own = status(path), let parent = status(path + "/..") else { return false }
        return own.device != parent.device || own.inode == parent.inode
    }
}
