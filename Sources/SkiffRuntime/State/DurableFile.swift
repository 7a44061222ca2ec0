import Foundation
import Glibc
import SkiffPOSIX

/// Writes that survive a crash or power loss at any moment: a temporary file, fsync, rename over the target,
/// fsync of the directory. A reader sees the old content or the new, never a torn one.
enum DurableFile {
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("open", temporary) }
        let ok = writeAll(fd, bytes) && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let error = failure("write", path)
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Rewrites a file's content in place (same inode). Needed for files bind-mounted into containers: a
    /// rename would leave running containers looking at the old inode.
    static func rewriteInPlace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        guard writeAll(fd, bytes), fsync(fd) == 0 else { throw failure("write", path) }
    }

    private static func failure(_ call: String, _ path: String) -> FunctionRuntimeError {
        .system("cannot \(call) \(path): \(String(cString: strerror(errno)))")
    }
}
