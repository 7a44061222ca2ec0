import Glibc

/// The process's descriptor limit, which a daemon raises once at start.
public enum ResourceLimits {
    /// The soft RLIMIT_NOFILE in force, nil when it cannot be read.
    public static func openFilesLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return UInt64(limit.rlim_cur)
    }

    /// Raises the soft RLIMIT_NOFILE to the hard one (systemd's default soft limit is 1024, the hard one much
    /// higher) and returns the soft limit now in force.
    @discardableResult
    public static func raiseOpenFiles() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// How many client connections fit in `openFiles` descriptors while `reserve` stay free for the runtime's own
    /// work (ctr, CNI, /proc, log files, connections to replicas, one per proxied call).
    public static func connectionBudget(openFiles: Int, reserve: Int) -> Int {
        max(16, min(openFiles - reserve, 1_000_000) / 2)
    }
}
