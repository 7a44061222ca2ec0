import CLinux
import Glibc

extension Processes {
    /// Waits until the process `pid` (any process, not only a child) has ended, or the deadline; true when it has.
    /// A process that has exited but is not yet reaped counts as ended: it runs nothing any more. The wait is a
    /// pidfd watched by `loop`, which becomes readable at the exit. Where no pidfd can be had (a kernel before 5.3,
    /// no descriptor left) it falls back to looking every 20 ms, and a failure to look counts as still running.
    public static func waitForExit(_ pid: pid_t, on loop: EventLoop, until deadline: ContinuousClock.Instant) async
        -> Bool
    {
        let pidfd = cl_pidfd_open(pid)
        guard pidfd >= 0 else {
            if cl_errno() == ESRCH { return true }
            return await pollForExit(pid, until: deadline)
        }
        return await loop.watchOnce(
            pidfd, for: .read, timeout: ContinuousClock.now.duration(to: deadline), event: { _ in true },
            timedOut: false, unwatchable: { !isRunningOrUnknown(pid) })
    }

    /// Whether `pid` still runs: false only when it certainly does not (gone: ESRCH, ENOENT; or a zombie awaiting
    /// its parent). A failure to look (no descriptor left, EMFILE; any other error) counts as running: taking a
    /// failure to observe a replica for its exit once made the daemon kill and restart every healthy replica when
    /// it ran out of file descriptors.
    public static func isRunningOrUnknown(_ pid: pid_t) -> Bool {
        if !exists(pid) { return false }
        do {
            return !(try ProcessStat.read(pid: pid).isZombieOrDead)
        } catch {
            return error.errno != ENOENT && error.errno != ESRCH
        }
    }

    private static func pollForExit(_ pid: pid_t, until deadline: ContinuousClock.Instant) async -> Bool {
        while isRunningOrUnknown(pid) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}
