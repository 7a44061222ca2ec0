import Glibc

extension EventLoop {
    /// Waits, on this loop, for one readiness event on `fd` or for `timeout`, whichever comes first, and then
    /// deregisters and closes `fd`, which the caller hands over. `event` turns the event bits into the answer
    /// (on the loop thread); `timedOut` is the answer at the deadline, `unwatchable` the answer when the loop
    /// cannot watch the descriptor. For a one-shot question about a descriptor: has this process exited (a
    /// pidfd), has this connect finished (a socket).
    public func watchOnce<T: Sendable>(
        _ fd: Int32, for interest: Interest, timeout: Duration, event: @escaping @Sendable (UInt32) -> T,
        timedOut: T, unwatchable: @escaping @Sendable () -> T
    ) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            execute { [self] in
                let watch = OneShotWatch(fd: fd, loop: self) { continuation.resume(returning: $0) }
                do {
                    try register(fd, interest: interest, handler: watch)
                } catch {
                    Socket.close(fd)
                    continuation.resume(returning: unwatchable())
                    return
                }
                watch.onEvent = { watch.finish(event($0)) }
                watch.timer = scheduleTimer(afterNanoseconds: max(timeout, .zero).nanoseconds) {
                    watch.finish(timedOut)
                }
            }
        }
    }
}

/// One descriptor on one loop until its first event or its timer; whichever comes first answers, once. Loop
/// thread only.
private final class OneShotWatch<T>: EventLoopHandler {
    let fd: Int32
    let loop: EventLoop
    var timer: TimerHandle?
    var onEvent: ((UInt32) -> Void)?
    private var answer: ((T) -> Void)?

    init(fd: Int32, loop: EventLoop, answer: @escaping (T) -> Void) {
        self.fd = fd
        self.loop = loop
        self.answer = answer
    }

    func handleEvents(_ events: UInt32) { onEvent?(events) }

    func finish(_ value: T) {
        guard let answer else { return }
        self.answer = nil
        onEvent = nil
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        loop.deregister(fd)
        Socket.close(fd)
        answer(value)
    }
}
