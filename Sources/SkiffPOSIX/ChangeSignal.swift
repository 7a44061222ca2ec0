import Synchronization

/// Wakes tasks waiting for some state to change, each until its own deadline, without polling. The state lives
/// with its owner; this only counts changes. The protocol that makes it race-free:
///
///     let seen = signal.generation      // 1. read the count first
///     if condition() { return }         // 2. then look at the state
///     await signal.wait(after: seen, until: deadline)
///
/// and on the other side: change the state, then `notify()`. A change made after step 1 bumps the count, so
/// the wait returns at once or is woken; a change made before step 1 is seen in step 2.
///
/// `notify()` sits on hot paths (every request's release of a replica): with nobody waiting it is one atomic
/// increment and one atomic load, no lock. Waiters publish themselves in `hasWaiters` and then look at the count
/// again, so (both sides sequentially consistent) either the notifier sees a waiter or the waiter sees the change.
public final class ChangeSignal: Sendable {
    private let count = Atomic<UInt64>(0)
    private let hasWaiters = Atomic<Bool>(false)

    private struct State {
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waiters whose deadline or cancellation came before they had parked: they must not park.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// How many changes there have been.
    public var generation: UInt64 { count.load(ordering: .sequentiallyConsistent) }

    /// Counts a change and wakes every waiter.
    public func notify() {
        count.wrappingAdd(1, ordering: .sequentiallyConsistent)
        guard hasWaiters.load(ordering: .sequentiallyConsistent) else { return }
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer {
                state.waiters.removeAll()
                hasWaiters.store(false, ordering: .sequentiallyConsistent)
            }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// The first value `probe` gives (it looks at the owner's state), looking again after every change; nil at the
    /// deadline or when the calling task is cancelled. The protocol above, in one place.
    public func first<T>(until deadline: ContinuousClock.Instant, _ probe: () -> T?) async -> T? {
        while true {
            let seen = generation
            if let value = probe() { return value }
            if ContinuousClock.now >= deadline || Task.isCancelled { return nil }
            await wait(after: seen, until: deadline)
        }
    }

    /// Returns at the first change after `generation` (at once if there was one already), at the deadline, or
    /// when the calling task is cancelled. Each waiter is resumed exactly once, by whoever takes it out.
    public func wait(after generation: UInt64, until deadline: ContinuousClock.Instant) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        let expiry = Task { [weak self] in
            try? await Task.sleep(until: deadline)
            if !Task.isCancelled { self?.resume(id) }
        }
        defer {
            expiry.cancel()
            _ = state.withLock { $0.expired.remove(id) }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { state -> Bool in
                    guard !Task.isCancelled, state.expired.remove(id) == nil else { return false }
                    state.waiters[id] = continuation
                    hasWaiters.store(true, ordering: .sequentiallyConsistent)
                    // Looked at after announcing the waiter: a change the notifier made without seeing it shows here.
                    guard count.load(ordering: .sequentiallyConsistent) == generation else {
                        state.waiters[id] = nil
                        return false
                    }
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UInt64) {
        let parked = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let continuation = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil
            }
            return continuation
        }
        parked?.resume()
    }
}

extension ChangeSignal {
    /// Returns at the first change of any of the signals after the generation read for it, at the deadline, or when
    /// the calling task is cancelled: a worker that waits for new work and for room at once.
    public static func wait(
        forAnyOf signals: [(signal: ChangeSignal, after: UInt64)], until deadline: ContinuousClock.Instant
    ) async {
        await withTaskGroup(of: Void.self) { waits in
            for (signal, generation) in signals {
                waits.addTask { await signal.wait(after: generation, until: deadline) }
            }
            await waits.next()
            waits.cancelAll()
        }
    }
}
