import Glibc

/// A file written only at its end and read anywhere: one segment of an append-only log. Its owner serialises
/// every call (the log's committer writes, readers read under the log's lock).
public final class SegmentFile {
    public let path: String
    private let fd: Int32
    /// Bytes in the file, as far as this process has written or found them.
    public private(set) var size: Int

    /// Opens `path` for reading and appending, creating it (0600, and making the creation durable) when
    /// `create` is set.
    public init(path: String, create: Bool) throws(SystemError) {
        self.path = path
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw SystemError(call: "fstat(\(path))", errno: code)
        }
        self.fd = fd
        size = Int(status.st_size)
        if create { DurableFile.syncDirectory(DurableFile.parent(of: path)) }
    }

    deinit { close(fd) }

    /// Writes `bytes` at the end. On failure (a full disk) the file is cut back to where it was, so that it never
    /// ends in half a record.
    public func append(_ bytes: [UInt8]) throws(SystemError) {
        let start = size
        var written = 0
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let count = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(start + written))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return count < 0 ? errno : ENOSPC }
                written += count
            }
            return nil
        }
        if let failure {
            _ = ftruncate(fd, off_t(start))
            throw SystemError(call: "pwrite(\(path))", errno: failure)
        }
        size = start + bytes.count
    }

    /// Makes everything written so far durable (the data and the size, not the times).
    public func sync() throws(SystemError) {
        guard fdatasync(fd) == 0 else { throw SystemError(call: "fdatasync(\(path))", errno: errno) }
    }

    /// `count` bytes from `offset` (fewer at the end of the file).
    public func read(at offset: Int, count: Int) throws(SystemError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        let failure: Int32? = bytes.withUnsafeMutableBytes { buffer in
            while done < count {
                let got = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if got < 0 && errno == EINTR { continue }
                if got < 0 { return errno }
                if got == 0 { break }
                done += got
            }
            return nil
        }
        if let failure { throw SystemError(call: "pread(\(path))", errno: failure) }
        return done == count ? bytes : Array(bytes[..<done])
    }

    /// Cuts the file to `size` bytes (a torn tail found at recovery) and makes that durable.
    public func truncate(to size: Int) throws(SystemError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw SystemError(call: "ftruncate(\(path))", errno: errno) }
        self.size = size
        try sync()
    }
}
