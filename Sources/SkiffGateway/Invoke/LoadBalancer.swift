import SkiffRuntime
import Synchronization

/// Least requests in flight across a function's ready replicas; ties rotate so idle replicas share the load.
final class LoadBalancer: Sendable {
    private struct State {
        var inFlight: [String: Int] = [:]
        var turn = 0
    }

    private let state = Mutex(State())

    /// Picks a replica and counts the request against it until `release`.
    func acquire(_ endpoints: [ReplicaEndpoint]) -> ReplicaEndpoint {
        state.withLock { state in
            state.turn &+= 1
            var best = endpoints[0]
            var bestLoad = Int.max
            for offset in 0..<endpoints.count {
                let candidate = endpoints[(state.turn + offset) % endpoints.count]
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
}
