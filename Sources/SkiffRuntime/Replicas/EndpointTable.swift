import Synchronization

/// Ready replicas per function and the requests in flight to each, under one lock. Supervisors publish; the
/// gateway acquires a replica per request (least requests in flight, ties rotating) and releases it when the
/// answer has arrived. Because choosing a replica and unpublishing one cannot interleave, a supervisor that
/// unpublishes replicas and then waits for their requests to end knows that none will start afterwards: only
/// then is a replica signalled, so updates and scale-downs never cut a request off (even for servers that exit
/// at once on SIGTERM).
///
/// Whoever waits (for a replica to be published, for replicas to go idle) parks on a continuation that a
/// publication or a last release resumes: no polling.
final class EndpointTable: Sendable {
    private struct State {
        var published: [String: [ReplicaEndpoint]] = [:]
        var inFlight: [String: Int] = [:]
        var turn = 0
        /// Bumped by every publication and every release that leaves a replica idle: what waiters wait for.
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waiters whose deadline or cancellation came before they had parked: they must not park.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    func get(_ namespace: String, _ name: String) -> [ReplicaEndpoint] {
        state.withLock { $0.published[Self.key(namespace, name)] ?? [] }
    }

    func set(_ namespace: String, _ name: String, _ endpoints: [ReplicaEndpoint]) {
        let woken = state.withLock { state in
            state.published[Self.key(namespace, name)] = endpoints.isEmpty ? nil : endpoints
            return Self.changed(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    /// A ready replica with the fewest requests in flight, counted against it until ``release(_:)``; nil when
    /// the function has none.
    func acquire(_ namespace: String, _ name: String) -> ReplicaEndpoint? {
        state.withLock { Self.acquire(&$0, Self.key(namespace, name)) }
    }

    /// Like ``acquire(_:_:)``, but when none is ready waits for one to be published, until the deadline (nil
    /// then) or until the calling task is cancelled.
    func acquire(_ namespace: String, _ name: String, deadline: ContinuousClock.Instant) async -> ReplicaEndpoint? {
        let key = Self.key(namespace, name)
        while true {
            let (endpoint, generation) = state.withLock { state in (Self.acquire(&state, key), state.generation) }
            if let endpoint { return endpoint }
            if ContinuousClock.now >= deadline || Task.isCancelled { return nil }
            await change(after: generation, deadline: deadline)
        }
    }

    private static func acquire(_ state: inout State, _ key: String) -> ReplicaEndpoint? {
        guard let endpoints = state.published[key], !endpoints.isEmpty else { return nil }
        state.turn &+= 1
        var best = endpoints[0]
        var bestLoad = Int.max
        for offset in 0..<endpoints.count {
            let candidate = endpoints[(state.turn &+ offset) % endpoints.count]
            let load = state.inFlight[candidate.id] ?? 0
            if load < bestLoad {
                best = candidate
                bestLoad = load
            }
        }
        state.inFlight[best.id] = bestLoad + 1
        return best
    }

    func release(_ endpoint: ReplicaEndpoint) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let load = (state.inFlight[endpoint.id] ?? 1) - 1
            state.inFlight[endpoint.id] = load > 0 ? load : nil
            // The hot path: with nobody waiting, a release costs no more than the count.
            return load > 0 || state.waiters.isEmpty ? [] : Self.changed(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    func inFlight(_ id: String) -> Int { state.withLock { $0.inFlight[id] ?? 0 } }

    /// Returns once no request is in flight to any of `ids`, or at the deadline.
    func waitUntilIdle(_ ids: [String], deadline: ContinuousClock.Instant) async {
        while true {
            let (busy, generation) = state.withLock { state in
                (ids.contains { (state.inFlight[$0] ?? 0) > 0 }, state.generation)
            }
            if !busy || ContinuousClock.now >= deadline || Task.isCancelled { return }
            await change(after: generation, deadline: deadline)
        }
    }

    // MARK: Waiting for a change

    /// Marks a change and hands back every waiter, for the caller to resume outside the lock.
    private static func changed(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        state.generation &+= 1
        guard !state.waiters.isEmpty else { return [] }
        defer { state.waiters.removeAll() }
        return Array(state.waiters.values)
    }

    /// Returns at the first change after `generation` (at once if there was one already), at the deadline, or
    /// when the task is cancelled. Each waiter is resumed exactly once, by whoever removes it from the table.
    private func change(after generation: UInt64, deadline: ContinuousClock.Instant) async {
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
                    guard state.generation == generation, !Task.isCancelled, state.expired.remove(id) == nil else {
                        return false
                    }
                    state.waiters[id] = continuation
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
