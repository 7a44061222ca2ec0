import SkiffPOSIX
import Synchronization

/// Catches termination signals from the moment it is created, so a signal that arrives while the daemon is still
/// starting is remembered rather than lost or left to kill the process half-started. Create it first, before
/// binding or announcing readiness; ``wait()`` then returns the first signal, however early it came.
public final class SignalListener: Sendable {
    private struct State {
        var received: Int32?
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    /// A class around the mutex so the reader thread and the waiters share one.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let reader: PosixThread

    public init(signals: [Int32]) throws {
        let pipe = try SignalPipe(signals: signals)
        let shared = self.shared
        // The pipe is read on a thread of its own: the read blocks.
        reader = try PosixThread(name: "skiff-signals") {
            while let number = pipe.next() {
                let waiters = shared.state.withLock { state -> [CheckedContinuation<Int32?, Never>] in
                    if state.received == nil { state.received = number }
                    defer { state.waiters.removeAll() }
                    return Array(state.waiters.values)
                }
                for waiter in waiters { waiter.resume(returning: number) }
            }
        }
    }

    /// The first signal received (at once if one already came); nil if the calling task is cancelled first.
    public func wait() async -> Int32? {
        let shared = self.shared
        let id = shared.state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = shared.state.withLock { state -> Int32?? in
                    if let received = state.received { return .some(received) }
                    if state.cancelled.remove(id) != nil { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = shared.state.withLock { state -> CheckedContinuation<Int32?, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                // Not registered yet: leave a mark the wait will find (and remove) when it registers.
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume(returning: nil)
        }
    }
}
