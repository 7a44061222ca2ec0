import Glibc

/// Other processes by PID: whether one exists, signalling it, and this process's own PID.
public enum Processes {
    /// This process's PID (1 when it is a container's init).
    public static var current: pid_t { getpid() }

    /// Whether a process with this PID exists (`kill(pid, 0)`): false only when the kernel says there is none
    /// (ESRCH); a process we may not signal still exists.
    public static func exists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Sends `signal`; a process that is already gone is not an error.
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        _ = kill(pid, signal)
    }
}
