import Glibc

/// The fields Skiff reads from `/proc/PID/stat`: a process's state, its parent, its CPU time and its memory.
/// One parser for the daemon (is a replica's process alive, its own `process_*` metrics) and the watchdog (which
/// orphans to reap).
public struct ProcessStat: Sendable, Equatable {
    /// `R`, `S`, `D`, `Z` (a zombie), `X` (dead), …
    public var state: UInt8
    public var parent: pid_t
    /// In clock ticks (`sysconf(_SC_CLK_TCK)`).
    public var userTicks: UInt64
    public var systemTicks: UInt64
    public var virtualBytes: UInt64
    public var residentPages: UInt64

    /// Clock ticks per second, the unit of ``userTicks`` and ``systemTicks``.
    public static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    /// Bytes per page, the unit of ``residentPages``.
    public static let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    /// How many descriptors this process has open (entries of /proc/self/fd), nil when that cannot be read.
    public static func openDescriptorCount() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let first = entry.pointee.d_name.0
            if first != UInt8(ascii: ".") { count += 1 }
        }
        // The directory's own descriptor is one of them.
        return max(0, count - 1)
    }

    public var isZombieOrDead: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }

    /// Reads `/proc/PID/stat` (this process's when `pid` is nil). Throws with the errno of the failed open or
    /// read: ENOENT or ESRCH when the process is gone, anything else when it could not be looked at.
    public static func read(pid: pid_t? = nil) throws(SystemError) -> ProcessStat {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { throw SystemError(call: "read(\(path))", errno: count < 0 ? errno : ESRCH) }
        guard let stat = parse(buffer[0..<count]) else { throw SystemError(call: "parse(\(path))", errno: EINVAL) }
        return stat
    }

    /// "PID (comm) S PPID …": the command may hold spaces and parentheses, so the fields start after the last
    /// ')'. Fields counted from the state: 0 state, 1 parent, 11 utime, 12 stime, 20 vsize, 21 rss.
    static func parse(_ bytes: ArraySlice<UInt8>) -> ProcessStat? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.endIndex else { return nil }
        let fields = bytes[(close + 2)...].split(separator: UInt8(ascii: " "))
        func number(_ index: Int) -> UInt64? {
            index < fields.count ? UInt64(String(decoding: fields[index], as: UTF8.self)) : nil
        }
        guard let state = fields.first?.first, let parent = number(1) else { return nil }
        return ProcessStat(
            state: state, parent: pid_t(truncatingIfNeeded: parent), userTicks: number(11) ?? 0,
            systemTicks: number(12) ?? 0, virtualBytes: number(20) ?? 0, residentPages: number(21) ?? 0)
    }
}
