import Synchronization

/// Ready replicas per function and the requests in flight to each, under one lock. Supervisors publish; the
/// gateway acquires a replica per request (least requests in flight, ties rotating) and releases it when the
/// answer has arrived. Because choosing a replica and unpublishing one cannot interleave, a supervisor that
/// unpublishes replicas and then waits for their requests to end knows that none will start afterwards: only
/// then is a replica signalled, so updates and scale-downs never cut a request off (even for servers that exit
/// at once on SIGTERM).
final class EndpointTable: Sendable {
    private struct State {
        var published: [String: [ReplicaEndpoint]] = [:]
        var inFlight: [String: Int] = [:]
        var turn = 0
    }

    private let state = Mutex(State())

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    func get(_ namespace: String, _ name: String) -> [ReplicaEndpoint] {
        state.withLock { $0.published[Self.key(namespace, name)] ?? [] }
    }

    func set(_ namespace: String, _ name: String, _ endpoints: [ReplicaEndpoint]) {
        state.withLock { $0.published[Self.key(namespace, name)] = endpoints.isEmpty ? nil : endpoints }
    }

    /// A ready replica with the fewest requests in flight, counted against it until ``release(_:)``; nil when
    /// the function has none.
    func acquire(_ namespace: String, _ name: String) -> ReplicaEndpoint? {
        state.withLock { state in
            guard let endpoints = state.published[Self.key(namespace, name)], !endpoints.isEmpty else { return nil }
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
    }

    func release(_ endpoint: ReplicaEndpoint) {
        state.withLock { state in
            let load = (state.inFlight[endpoint.id] ?? 1) - 1
            state.inFlight[endpoint.id] = load > 0 ? load : nil
        }
    }

    func inFlight(_ id: String) -> Int { state.withLock { $0.inFlight[id] ?? 0 } }

    /// Returns once no request is in flight to any of `ids`, or at the deadline.
    func waitUntilIdle(_ ids: [String], deadline: ContinuousClock.Instant) async {
        while ContinuousClock.now < deadline {
            let busy = state.withLock { state in ids.contains { (state.inFlight[$0] ?? 0) > 0 } }
            if !busy { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
