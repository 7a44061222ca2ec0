import Glibc

/// A long-lived process writes to pipes of children that may have exited (a function that never reads its stdin,
/// a tool that fails early) and to sockets whose peer left. Such a write must fail with EPIPE, which the caller
/// handles, never raise SIGPIPE, whose default action ends the process: a function that ignored its request body
/// once killed the watchdog, which is PID 1 of its container. Children get the default disposition back
/// (``ChildProcess`` resets it), so pipelines they run behave as usual.
public enum BrokenPipes {
    public static func ignore() {
        signal(SIGPIPE, SIG_IGN)
    }
}
