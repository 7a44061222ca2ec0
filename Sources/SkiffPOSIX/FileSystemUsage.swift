import Glibc

/// How full a file system is, as `df` reports it: blocks reserved for root count as unavailable.
public struct FileSystemUsage: Sendable {
    public var percentUsed: Double

    /// nil when the path cannot be looked at (missing, no permission) or the file system reports no blocks.
    public init?(path: String) {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let used = Double(stats.f_blocks - stats.f_bfree)
        let available = Double(stats.f_bavail)
        guard used + available > 0 else { return nil }
        percentUsed = used / (used + available) * 100
    }

    /// `91%`, rounded up as df does.
    public var percentDescription: String { "\(Int(percentUsed.rounded(.up)))%" }
}
