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
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            loop.execute {
                let watch = Watch(fd: started.fd, loop: loop, continuation: continuation)
                do {
                    try loop.register(started.fd, interest: .write, handler: watch)
                } catch {
                    Socket.close(started.fd)
                    continuation.resume(returning: false)
                    return
                }
                watch.timer = loop.scheduleTimer(afterNanoseconds: max(timeout, .zero).nanoseconds) {
                    watch.finish(connected: false)
                }
            }
        }
    }

    /// One pending connect on one loop, until it is writable (decided) or the timer fires. Loop thread only.
    private final class Watch: EventLoopHandler {
        let fd: Int32
        let loop: EventLoop
        var timer: TimerHandle?
        private var continuation: CheckedContinuation<Bool, Never>?

        init(fd: Int32, loop: EventLoop, continuation: CheckedContinuation<Bool, Never>) {
            self.fd = fd
            self.loop = loop
            self.continuation = continuation
        }

        func handleEvents(_ events: UInt32) { finish(connected: Socket.pendingError(fd) == 0) }

        func finish(connected: Bool) {
            guard let continuation else { return }
            self.continuation = nil
            if let timer { loop.cancelTimer(timer) }
            timer = nil
            loop.deregister(fd)
            Socket.close(fd)
            continuation.resume(returning: connected)
        }
    }
}
