import SkiffPOSIX

/// Whether something accepts TCP connections at an address: a non-blocking connect watched by an event loop,
/// closed as soon as it is decided. For waiting on a server that another process is starting (a function's
/// own HTTP server behind the watchdog) without blocking a thread on `poll`.
public enum ConnectProbe {
    /// True when a connection to `address` is established within `timeout`; false when it is refused, fails,
    /// or is still pending at the timeout.
    public static func accepts(_ address: SocketAddress, on loop: EventLoop, within timeout: Duration) async -> Bool {
        guard let started = try? Socket.connect(to: address) else { return false }
        guard started.inProgress else {
            Socket.close(started.fd)
            return true
        }
        let fd = started.fd
        return await loop.watchOnce(
            fd, for: .write, timeout: timeout, event: { _ in Socket.pendingError(fd) == 0 }, timedOut: false,
            unwatchable: { false })
    }
}
