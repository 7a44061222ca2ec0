import SkiffPOSIX
import Synchronization

/// Ready replicas per function and the requests in flight to each, under one lock. Supervisors publish; the
/// gateway acquires a replica per request (least requests in flight, ties rotating) and releases it when the
/// answer has arrived. Because choosing a replica and unpublishing one cannot interleave, a supervisor that
/// unpublishes replicas and then waits for their requests to end knows that none will start afterwards: only
/// then is a replica signalled, so updates and scale-downs never cut a request off (even for servers that exit
/// at once on SIGTERM).
///
/// Whoever waits (for a replica to be published, for replicas to go idle) parks on `changes`, which every
/// publication and every release that leaves a replica idle notifies: no polling.
final class EndpointTable: Sendable {
    private struct State {
        var published: [String: [ReplicaEndpoint]] = [:]
        var inFlight: [String: Int] = [:]
        var turn = 0
    }

    private let state = Mutex(State())
    private let changes = ChangeSignal()

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    func get(_ namespace: String, _ name: String) -> [ReplicaEndpoint] {
        state.withLock { $0.published[Self.key(namespace, name)] ?? [] }
    }

    func set(_ namespace: String, _ name: String, _ endpoints: [ReplicaEndpoint]) {
        state.withLock { $0.published[Self.key(namespace, name)] = endpoints.isEmpty ? nil : endpoints }
        changes.notify()
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
        return await changes.first(until: deadline) { state.withLock { Self.acquire(&$0, key) } }
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
        let idle = state.withLock { state -> Bool in
            let load = (state.inFlight[endpoint.id] ?? 1) - 1
            state.inFlight[endpoint.id] = load > 0 ? load : nil
            return load == 0
        }
        // Every release that leaves a replica idle counts as a change, waiter or not: one that checks before this
        // release and parks after it must find the count moved.
        if idle { changes.notify() }
    }

    func inFlight(_ id: String) -> Int { state.withLock { $0.inFlight[id] ?? 0 } }

    /// Returns once no request is in flight to any of `ids`, or at the deadline.
    func waitUntilIdle(_ ids: [String], deadline: ContinuousClock.Instant) async {
        _ = await changes.first(until: deadline) {
            state.withLock { state in ids.contains { (state.inFlight[$0] ?? 0) > 0 } } ? nil : ()
        }
    }
}
