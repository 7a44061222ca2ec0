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
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many changes there have been.
    public var generation: UInt64 { count.load(ordering: .sequentiallyConsistent) }

    /// Counts a change and wakes every waiter.
    public func notify() {
        count.wrappingAdd(1, ordering: .sequentiallyConsistent)
        guard hasWaiters.load(ordering: .sequentiallyConsistent) else { return }
        let woken = state.withLock { state -> [Waiter] in
            defer {
                state.waiters.removeAll()
                hasWaiters.store(false, ordering: .sequentiallyConsistent)
            }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.wake() }
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
    /// when the calling task is cancelled.
    public func wait(after generation: UInt64, until deadline: ContinuousClock.Instant) async {
        await Self.wait(forAnyOf: [(self, generation)], until: deadline)
    }

    /// Adds `waiter`, then looks at the count again: a change the notifier made without seeing the waiter shows
    /// here (both sides are sequentially consistent), and wakes it at once.
    private func add(_ waiter: Waiter, after generation: UInt64) -> UInt64 {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            state.waiters[state.nextWaiter] = waiter
            hasWaiters.store(true, ordering: .sequentiallyConsistent)
            return state.nextWaiter
        }
        if count.load(ordering: .sequentiallyConsistent) != generation { waiter.wake() }
        return id
    }

    /// Waits standing now (for tests: a wait that ended must not stay behind).
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    private func remove(_ id: UInt64) {
        _ = state.withLock { $0.waiters.removeValue(forKey: id) }
    }
}

/// One task's wait, which whoever comes first ends: a change of any signal it waits on, its deadline, or its
/// cancellation. Ended before the task parks, it does not park.
private final class Waiter: Sendable {
    private enum Phase {
        case waiting
        case parked(CheckedContinuation<Void, Never>)
        case woken
    }

    private let phase = Mutex(Phase.waiting)

    var isWoken: Bool {
        phase.withLock {
            if case .woken = $0 { return true }
            return false
        }
    }

    func wake() {
        let parked = phase.withLock { phase -> CheckedContinuation<Void, Never>? in
            defer { phase = .woken }
            if case .parked(let continuation) = phase { return continuation }
            return nil
        }
        parked?.resume()
    }

    func park(_ continuation: CheckedContinuation<Void, Never>) {
        let woken = phase.withLock { phase -> Bool in
            if case .woken = phase { return true }
            phase = .parked(continuation)
            return false
        }
        if woken { continuation.resume() }
    }
}

extension ChangeSignal {
    /// Returns at the first change of any of the signals after the generation read for it, at the deadline, or when
    /// the calling task is cancelled: a worker that waits for new work and for room at once.
    ///
    /// One waiter stands in every signal and one timer keeps the deadline, and neither is made when a change has
    /// already come: a queue's worker waits like this after every call, where a child task and a timer for each
    /// signal were a good part of the thread switches a call cost.
    public static func wait(
        forAnyOf signals: [(signal: ChangeSignal, after: UInt64)], until deadline: ContinuousClock.Instant
    ) async {
        let waiter = Waiter()
        let added = signals.map { ($0.signal, $0.signal.add(waiter, after: $0.after)) }
        defer { for (signal, id) in added { signal.remove(id) } }
        guard !waiter.isWoken, ContinuousClock.now < deadline else { return }
        let expiry = Task {
            try? await Task.sleep(until: deadline)
            waiter.wake()
        }
        defer { expiry.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter.park($0) }
        } onCancel: {
            waiter.wake()
        }
    }
}
