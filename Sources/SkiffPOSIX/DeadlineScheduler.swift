import Synchronization

/// Runs actions at their due times from one long-lived task, ``run()``, which belongs in the daemon's service
/// group: no sleeping `Task` per timer that outlives its owner or escapes shutdown. Due actions run as child
/// tasks of ``run()``, so they are cancelled with it. The clock is injected: the daemon uses `ContinuousClock`;
/// tests drive a manual clock and see exactly what fires, in milliseconds, without racing real time.
public final class DeadlineScheduler<C: Clock>: Sendable where C.Duration == Duration {
    public struct Handle: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry: Sendable {
        let due: C.Instant
        let action: @Sendable () async -> Void
    }

    private struct State: Sendable {
        var entries: [UInt64: Entry] = [:]
        var lastID: UInt64 = 0
    }

    public let clock: C
    private let state = Mutex(State())
    private let changed = ChangeSignal()
    private let fired = Atomic<Int>(0)

    public init(clock: C) {
        self.clock = clock
    }

    /// Runs `action` once `delay` has passed on the clock (as soon as ``run()`` gets to it).
    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping @Sendable () async -> Void) -> Handle {
        let due = clock.now.advanced(by: delay)
        let id = state.withLock { state in
            state.lastID &+= 1
            state.entries[state.lastID] = Entry(due: due, action: action)
            return state.lastID
        }
        changed.notify()
        return Handle(id: id)
    }

    /// Takes a pending action out; true when it had not run yet (it never will).
    @discardableResult
    public func cancel(_ handle: Handle) -> Bool {
        state.withLock { $0.entries.removeValue(forKey: handle.id) != nil }
    }

    /// Actions scheduled and not yet started.
    public var pendingCount: Int { state.withLock { $0.entries.count } }

    /// Actions started so far (counted before each starts).
    public var firedCount: Int { fired.load(ordering: .acquiring) }

    /// Starts each action when it is due, earliest first, until the calling task is cancelled; then returns once
    /// the actions it started have ended (they see the cancellation).
    public func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let seen = changed.generation
                let now = clock.now
                let (due, earliest) = state.withLock { state -> ([Entry], C.Instant?) in
                    let ready = state.entries.filter { $0.value.due <= now }.sorted {
                        ($0.value.due, $0.key) < ($1.value.due, $1.key)
                    }
                    for (id, _) in ready { state.entries[id] = nil }
                    return (ready.map(\.value), state.entries.values.map(\.due).min())
                }
                for entry in due {
                    fired.add(1, ordering: .releasing)
                    group.addTask { await entry.action() }
                }
                if due.isEmpty { await wait(until: earliest, orChangeAfter: seen) }
            }
        }
    }

    /// Until the clock reaches `instant` (never, when nil), something is scheduled, or cancellation.
    private func wait(until instant: C.Instant?, orChangeAfter seen: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            if let instant {
                group.addTask { [clock] in try? await clock.sleep(until: instant, tolerance: nil) }
            }
            group.addTask { [changed] in
                // The day is only a bound for the wait; the loop looks again whenever it ends.
                await changed.wait(after: seen, until: .now + .seconds(86_400))
            }
            await group.next()
            group.cancelAll()
        }
    }
}
