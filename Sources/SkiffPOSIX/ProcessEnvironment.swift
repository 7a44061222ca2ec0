import Glibc

/// Changes to this process's environment that cannot race a child being spawned. posix_spawn reads `environ`
/// while setenv on another thread may reallocate and free it: a spawn then fails with EFAULT (seen in the test
/// process, where a test sets NOTIFY_SOCKET while others start `ctr`) or hands the child garbage. Both go through
/// the lock ChildProcess holds around posix_spawn. The daemon itself never changes its environment; tests do.
public enum ProcessEnvironment {
    public static func set(_ name: String, _ value: String) {
        ChildRegistry.pids.withLock { _ in _ = setenv(name, value, 1) }
    }

    public static func unset(_ name: String) {
        ChildRegistry.pids.withLock { _ in _ = unsetenv(name) }
    }
}
